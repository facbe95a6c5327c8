package policy

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// WriteRulesMarkdown writes the rule reference (docs/rules.md) from the registry, so the
// documentation cannot drift from the code.
func WriteRulesMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("<!-- Generated from pipeline/policy's rule registry by `go test ./pipeline/policy -run TestRulesDoc -update`. Do not edit. -->\n")
	b.WriteString("# Policy rules\n\n")
	b.WriteString("`fargate check` (offline) and `fargate audit` (live, read-only) evaluate these rules. Each rule names the AWS\n")
	b.WriteString("Security Hub controls (or AWS Config rules) it anticipates, so a deploy that passes here does not light up\n")
	b.WriteString("Security Hub afterwards. Findings at or above the threshold (default `high`) fail the check and block the deploy.\n\n")
	b.WriteString("| ID | Title | Severity | AWS controls | Applies to |\n|---|---|---|---|---|\n")
	rules := Rules()
	for _, r := range rules {
		fmt.Fprintf(&b, "| [%s](#%s) | %s | %s | %s | %s |\n", r.ID, strings.ToLower(r.ID), mdCell(r.Title), r.Severity, controlsCell(r.Controls), r.Target)
	}
	b.WriteString("\n")
	for _, r := range rules {
		fmt.Fprintf(&b, "## %s\n\n**%s**  \nSeverity: %s · AWS controls: %s · Applies to: %s\n\n", r.ID, r.Title, r.Severity, controlsCell(r.Controls), r.Target)
		fmt.Fprintf(&b, "Why: %s\n\nFix: %s\n\n", r.Rationale, r.Remediation)
	}
	b.WriteString("## Actions allowed with Resource \"*\"\n\nFG-IAM-002 accepts `Resource: \"*\"` only in statements whose actions all support no resource-level\npermissions:\n\n")
	for _, a := range StarResourceExceptions() {
		fmt.Fprintf(&b, "- `%s`\n", a)
	}
	b.WriteString("\nActions are compared in any case (`ECR:GetAuthorizationToken` is `ecr:GetAuthorizationToken`). FG-CFN-005\nchecks a template's inline policies with the same checker and list, except that the `ssmmessages` channel actions\n(ECS Exec) may have `Resource: \"*\"` there only outside production, in a template whose service enables ECS Exec.\n")
	b.WriteString("\nIt also accepts a wildcard resource (`\"*\"`, `key/*`) in a statement whose actions all belong to a service\nbelow and whose Condition requires the service's key to match named values (StringEquals, StringLike, ArnEquals\nor ArnLike, optionally ForAnyValue:; not …IfExists or ForAllValues:, not a match-all pattern such as `alias/*`):\n\n")
	scoping := ResourceScopingConditions()
	for _, svc := range slices.Sorted(maps.Keys(scoping)) {
		fmt.Fprintf(&b, "- `%s:*` actions: `%s`\n", svc, strings.Join(scoping[svc], "`, `"))
	}
	b.WriteString(`
## Suppressions

A suppression accepts the findings of one rule on matching resources, with a reason and an expiry:

` + "```yaml" + `
suppressions:
  - rule: FG-TD-007
    resource: task-definition/sample-app/container/app   # exact, or a pattern where * matches anything
    reason: needs NET_RAW for ICMP health probes (SEC-123)
    expires: 2026-12-31                                  # through the end of that day (UTC), or an RFC 3339 time
` + "```" + `

An unknown rule ID, a missing resource or reason, or a missing or invalid expiry is an error. After it expires a
suppression stops suppressing, and the finding says so.

## Output formats

- ` + "`text`" + ` (default): findings grouped by severity, one line each: rule, resource, message, fix, location.
- ` + "`json`" + `: a stable contract:
  ` + "`" + `{"findings": [{"rule", "severity", "source", "controls", "resource", "message", "remediation", "suppressed", "suppressionNote"?, "location"?}], "summary": {"critical", "high", "medium", "low", "suppressed"}}` + "`" + `.
  ` + "`source`" + ` names the check that found the finding, on every finding: ` + "`policy`" + ` (the rules over the Dockerfile, task
  definitions, IAM policy files and service settings), ` + "`iac`" + ` (the template checks: the FG-CFN rules and Trivy's
  misconfigurations, FG-IAC-001) or ` + "`audit`" + ` (a live account: its resources, registry and detective controls).
  Suppressed findings are listed with ` + "`\"suppressed\": true`" + ` and a ` + "`suppressionNote`" + `; the severity counts in
  ` + "`summary`" + ` exclude them and ` + "`summary.suppressed`" + ` counts them. ` + "`location`" + ` is ` + "`{path, line}`" + ` for files or
  ` + "`{logical}`" + ` (an ARN) for live resources.
- ` + "`sarif`" + `: SARIF 2.1.0 for GitHub code scanning; every rule with its security-severity (critical 9.5, high 8.0, medium 5.5,
  low 2.0: the middle of the band GitHub reads the score in; the scan gate's SARIF uses the same scale) and control IDs
  as tags, result level ` + "`error`" + ` (critical, high), ` + "`warning`" + ` (medium) or ` + "`note`" + ` (low),
  results located at the file and line (Dockerfile instruction, task definition container, policy statement) or, for
  live resources, a logical location. Suppressed findings carry a SARIF ` + "`suppressions`" + ` entry. Every result names
  its source, as in JSON, in its property bag: ` + "`\"properties\": {\"fargate/source\": \"policy\"}`" + ` (or ` + "`iac`" + `, ` + "`audit`" + `);
  the scan gate's SARIF writes ` + "`scan`" + ` there.

## Resource names

` + "`task-definition/<family>`" + ` (` + "`/container/<name>`" + ` for container rules), ` + "`service/<cluster>/<name>`" + `, ` + "`cluster/<name>`" + `,
` + "`ecr/<repository>`" + `, the Dockerfile path, ` + "`iam/<policy file or role/policy>`" + `,
` + "`template/<template path>#<LogicalID>`" + ` (` + "`template/<template path>`" + ` for the template as a whole,
` + "`#Parameters`" + ` for FG-CFN-001; the message names the environment), ` + "`<file>#<Trivy ID>`" + ` for FG-IAC-001, and
` + "`<service>:<region>`" + ` (e.g. ` + "`securityhub:eu-west-1`" + `) or the trail ARN for FG-ACCT rules.
`)
	_, err := io.WriteString(w, b.String())
	return err
}

func controlsCell(c []string) string {
	if len(c) == 0 {
		return "—"
	}
	return strings.Join(c, ", ")
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
