package report

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"dagger/fargate/pipeline/findings"
	"dagger/fargate/pipeline/redact"
)

// Markdown renders the report as GitHub-flavoured Markdown. Every string that came from
// outside (names, event messages, reasons) is escaped so it cannot inject markup, HTML or
// table cells, and AWS access key IDs are masked wherever they appear.
func (r Report) Markdown() string {
	var b strings.Builder
	title := "Deploy"
	if r.Env != "" {
		title += " to " + text(r.Env)
	}
	if r.Action == ActionRollback {
		title = "Rollback"
		if r.Env != "" {
			title += " of " + text(r.Env)
		}
	}
	if r.Service != "" {
		title += ": " + text(r.Service)
	}
	fmt.Fprintf(&b, "## %s\n\n", title)
	fmt.Fprintf(&b, "**%s**\n\n", r.badge())
	if r.Reason != "" {
		fmt.Fprintf(&b, "Reason: %s\n\n", text(r.Reason))
	}
	if len(r.BreakGlass) > 0 {
		b.WriteString("> [!WARNING]\n> Break-glass: ")
		b.WriteString(fmt.Sprintf("%d gate(s) bypassed on purpose; see the break-glass section.\n\n", len(r.BreakGlass)))
	}

	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "> [!WARNING]\n> %s\n\n", text(w))
	}

	r.writeSummary(&b)
	r.writeGates(&b)
	r.writeScanDetails(&b)
	r.writePolicyDetails(&b)
	r.writeBreakGlass(&b)
	r.writeDelivery(&b)
	r.writeTasks(&b)
	r.writeTimeline(&b)
	return maskAccessKeys(strings.TrimRight(b.String(), "\n") + "\n")
}

// badge is the one-line status, e.g. "FAILED: rolled back to sample-app-preprod:41".
func (r Report) badge() string {
	final := r.FinalTaskDefinition
	switch r.Outcome {
	case Deployed:
		status := "DEPLOYED"
		if len(r.BreakGlass) > 0 {
			status += " (break-glass)"
		}
		if r.TaskDefinition != "" {
			return status + ": " + text(r.TaskDefinition)
		}
		return status
	case RolledBack:
		if r.PreviousTaskDefinition != "" {
			return "FAILED: rolled back to " + text(r.PreviousTaskDefinition)
		}
		return "FAILED: rolled back"
	case RollbackInProgress:
		return "FAILED: rollback in progress to " + text(orDash(r.PreviousTaskDefinition))
	case RollbackFailed:
		return "FAILED: rollback failed, the service needs attention"
	case Reverted:
		if r.PreviousTaskDefinition != "" {
			return "ROLLED BACK to " + text(orDash(r.TaskDefinition)) + " (from " + text(r.PreviousTaskDefinition) + ")"
		}
		return "ROLLED BACK to " + text(orDash(r.TaskDefinition))
	case Cancelled:
		if final != "" {
			return "CANCELLED: service on " + text(final) + "; ECS continues the rollout on its own"
		}
		return "CANCELLED: nothing was deployed"
	case ConcurrentDeploy:
		return "FAILED: concurrent deploy detected"
	case FailedLocally:
		return "FAILED LOCALLY: the app did not become healthy"
	case FailedToBuild:
		return "FAILED TO BUILD: nothing was deployed"
	case FailedBeforeDeploy:
		return "FAILED BEFORE DEPLOY: nothing was deployed"
	case Refused:
		return "REFUSED: nothing was deployed"
	case BadInput:
		return "BAD INPUT: nothing was deployed"
	case TimedOut:
		if r.TaskDefinition != "" {
			return "TIMED OUT: " + text(r.TaskDefinition) + " did not finish deploying"
		}
		return "TIMED OUT"
	case "":
		return "UNKNOWN: no outcome recorded"
	default:
		return "UNKNOWN: " + text(string(r.Outcome))
	}
}

// phaseLine is the phases with their durations, e.g. "build 3.2s · scan 1.9s".
func (r Report) phaseLine() string {
	parts := make([]string, 0, len(r.Phases))
	for _, p := range r.Phases {
		parts = append(parts, text(p.Name)+" "+p.Duration.Round(100*time.Millisecond).String())
	}
	return strings.Join(parts, " · ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (r Report) writeSummary(b *strings.Builder) {
	rows := [][2]string{}
	add := func(k, v string) {
		if v != "" {
			rows = append(rows, [2]string{k, v})
		}
	}
	add("Outcome", text(string(r.Outcome)))
	add("Environment", text(r.Env))
	add("Service", text(r.Service))
	add("Source revision", code(r.Revision))
	add("Image", code(r.Image))
	if len(r.Platforms) > 0 {
		add("Platforms", joinMapped(r.Platforms, code))
	}
	add("Task definition", code(r.TaskDefinition))
	add("Previous task definition", code(r.PreviousTaskDefinition))
	if r.FinalTaskDefinition != "" && r.FinalTaskDefinition != r.TaskDefinition {
		add("Service now on", code(r.FinalTaskDefinition))
	}
	if !r.Started.IsZero() {
		add("Started", stamp(r.Started))
	}
	if !r.Started.IsZero() && !r.Finished.IsZero() && !r.Finished.Before(r.Started) {
		add("Duration", r.Finished.Sub(r.Started).Round(time.Second).String())
	}
	if len(r.Phases) > 0 {
		add("Phases", r.phaseLine())
	}
	b.WriteString("| | |\n|---|---|\n")
	for _, row := range rows {
		fmt.Fprintf(b, "| %s | %s |\n", row[0], row[1])
	}
	b.WriteString("\n")
}

func (r Report) writeGates(b *strings.Builder) {
	var rows [][3]string
	if s := r.Scan; s != nil {
		result := "passed"
		if !s.Passed {
			result = "**FAILED**"
		}
		detail := severityCounts(s.Counts)
		if len(s.FailOn) > 0 {
			detail += "; fails on " + joinMapped(s.FailOn, text)
		}
		if s.Ignored > 0 {
			detail += fmt.Sprintf("; %d ignored", s.Ignored)
		}
		if len(s.ExpiredIgnores) > 0 {
			detail += fmt.Sprintf("; **%d expired ignore(s)**", len(s.ExpiredIgnores))
		}
		rows = append(rows, [3]string{"Vulnerability scan", result, detail})
	}
	if s := r.SBOM; s != nil {
		result, detail := "not produced", ""
		if s.Produced {
			result = "produced"
			detail = text(s.Format)
			if s.Attached {
				detail = strings.TrimPrefix(detail+", attached as attestation", ", ")
			}
		}
		rows = append(rows, [3]string{"SBOM", result, detail})
	}
	if s := r.Signature; s != nil {
		result := "**unsigned**"
		switch {
		case s.Signed && s.Verified && s.Reused:
			result = "verified (existing signature reused)"
		case s.Signed && s.Verified:
			result = "signed and verified"
		case s.Signed:
			result = "signed, **not verified**"
		}
		detail := code(s.Identity)
		if s.Issuer != "" {
			detail = strings.TrimPrefix(detail+", issuer "+code(s.Issuer), ", ")
		}
		rows = append(rows, [3]string{"Signature", result, detail})
	}
	if p := r.Policy; p != nil {
		result := "passed"
		if p.Failed > 0 {
			result = "**FAILED**"
		}
		detail := fmt.Sprintf("%d passed, %d failed", p.Passed, p.Failed)
		if len(p.Failures) != p.Failed {
			detail += fmt.Sprintf(" (%d findings)", len(p.Failures))
		}
		detail += fmt.Sprintf(", %d suppressed", p.Suppressed)
		if p.Threshold != "" {
			detail += "; threshold " + text(p.Threshold)
		}
		rows = append(rows, [3]string{"Policy", result, detail})
	}
	if p := r.Promotion; p != nil {
		result := "from " + text(p.SourceEnv)
		if p.SourceTaskDefinition != "" {
			result += " (" + code(p.SourceTaskDefinition) + ")"
		}
		detail := "no approval recorded"
		if p.ApprovedBy != "" {
			detail = "approved by " + text(p.ApprovedBy)
			if !p.ApprovedAt.IsZero() {
				detail += " at " + stamp(p.ApprovedAt)
			}
			if p.ApprovalReason != "" {
				detail += ": " + text(p.ApprovalReason)
			}
		}
		rows = append(rows, [3]string{"Promotion", result, detail})
	}
	if len(rows) == 0 {
		return
	}
	b.WriteString("### Gates\n\n| Gate | Result | Details |\n|---|---|---|\n")
	for _, row := range rows {
		fmt.Fprintf(b, "| %s | %s | %s |\n", row[0], row[1], row[2])
	}
	b.WriteString("\n")
}

func (r Report) writeScanDetails(b *strings.Builder) {
	s := r.Scan
	if s == nil || (len(s.Blocking) == 0 && len(s.ExpiredIgnores) == 0) {
		return
	}
	if len(s.Blocking) > 0 {
		b.WriteString("#### Blocking vulnerabilities\n\n")
		for _, f := range s.Blocking {
			fmt.Fprintf(b, "- %s\n", text(f))
		}
		b.WriteString("\n")
	}
	if len(s.ExpiredIgnores) > 0 {
		b.WriteString("#### Expired ignore entries\n\nThese entries no longer suppress anything; renew or remove them.\n\n")
		for _, f := range s.ExpiredIgnores {
			fmt.Fprintf(b, "- %s\n", text(f))
		}
		b.WriteString("\n")
	}
}

func (r Report) writePolicyDetails(b *strings.Builder) {
	if r.Policy == nil || len(r.Policy.Failures) == 0 {
		return
	}
	b.WriteString("#### Failed policy rules\n\n| Rule | Severity | Resource | Finding |\n|---|---|---|---|\n")
	for _, f := range r.Policy.Failures {
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", text(f.Rule), text(severityLabel(f.Severity)), code(f.Resource), text(f.Message))
	}
	b.WriteString("\n")
}

func (r Report) writeBreakGlass(b *strings.Builder) {
	if len(r.BreakGlass) == 0 {
		return
	}
	b.WriteString("### Break-glass\n\nThese gates were bypassed; the deploy did not meet them.\n\n| Gate | By | When | Reason |\n|---|---|---|---|\n")
	for _, g := range r.BreakGlass {
		when := ""
		if !g.At.IsZero() {
			when = stamp(g.At)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", text(g.Gate), text(g.By), when, text(g.Reason))
	}
	b.WriteString("\n")
}

func (r Report) writeTimeline(b *strings.Builder) {
	if len(r.Timeline) == 0 {
		return
	}
	oneDay := true
	for _, e := range r.Timeline {
		if e.At.UTC().YearDay() != r.Timeline[0].At.UTC().YearDay() || e.At.UTC().Year() != r.Timeline[0].At.UTC().Year() {
			oneDay = false
		}
	}
	fmt.Fprintf(b, "<details><summary>Rollout timeline (%d events)</summary>\n\n| Time (UTC) | Event |\n|---|---|\n", len(r.Timeline))
	for _, e := range r.Timeline {
		at := ""
		switch {
		case e.At.IsZero():
		case oneDay:
			at = e.At.UTC().Format("15:04:05")
		default:
			at = stamp(e.At)
		}
		fmt.Fprintf(b, "| %s | %s |\n", at, text(e.Message))
	}
	b.WriteString("\n</details>\n")
}

var severityOrder = []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"}

func severityCounts(counts map[string]int) string {
	var parts []string
	for _, s := range severityOrder {
		parts = append(parts, fmt.Sprintf("%d %s", counts[s], strings.ToLower(s)))
	}
	var others []string
	for s := range counts {
		if !slices.Contains(severityOrder, s) {
			others = append(others, s)
		}
	}
	slices.Sort(others)
	for _, s := range others {
		parts = append(parts, fmt.Sprintf("%d %s", counts[s], text(strings.ToLower(s))))
	}
	return strings.Join(parts, ", ")
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }

func joinMapped(items []string, f func(string) string) string {
	out := make([]string, 0, len(items))
	for _, s := range items {
		if v := f(s); v != "" {
			out = append(out, v)
		}
	}
	return strings.Join(out, ", ")
}

// mdEscaper neutralises the characters that start Markdown or HTML constructs or split
// table cells, and folds line breaks so a value stays on its line (and in its cell).
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "|", `\|`, "~", `\~`, "#", `\#`, "!", `\!`,
	"\r\n", " ", "\n", " ", "\r", " ", "\t", " ",
)

// htmlLike matches what a Markdown renderer could take for HTML: a tag or comment opener
// ("<b", "</", "<!", "<?") or a character reference ("&amp;", "&#60;"). Anything else ("->",
// "a < b", "R&D") is shown as it is.
var htmlLike = regexp.MustCompile(`<[A-Za-z/!?]|&(#[0-9]+|#[xX][0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);`)

// text escapes a user-controlled string for Markdown inline text or a table cell.
func text(s string) string {
	s = mdEscaper.Replace(stripControl(s))
	return htmlLike.ReplaceAllStringFunc(s, func(m string) string {
		if m[0] == '<' {
			return "&lt;" + m[1:]
		}
		return "&amp;" + m[1:]
	})
}

var plainRef = regexp.MustCompile(`^[A-Za-z0-9._:/@+=,-]+$`)

// code renders identifiers (digests, ARNs, revisions) as inline code when they hold only
// characters that are safe there, and as escaped text otherwise.
func code(s string) string {
	if s == "" {
		return ""
	}
	if plainRef.MatchString(s) {
		return "`" + s + "`"
	}
	return text(s)
}

func stripControl(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// maskAccessKeys masks AWS access key IDs (redact.MaskAccessKeyIDs).
func maskAccessKeys(s string) string { return redact.MaskAccessKeyIDs(s) }

// Redact replaces every occurrence of the given secret values in the report's strings with
// "***". Use it when a value that must not be shown may have reached an event message or a
// reason (for example an error text that echoed a credential). Empty secrets are ignored.
func (r *Report) Redact(secrets ...string) {
	var live []string
	for _, s := range secrets {
		if s != "" {
			live = append(live, s)
		}
	}
	if len(live) == 0 || r == nil {
		return
	}
	// Longest first, so a secret that contains another is replaced whole.
	slices.SortFunc(live, func(a, b string) int { return len(b) - len(a) })
	redactValue(reflect.ValueOf(r).Elem(), live)
}

func redactValue(v reflect.Value, secrets []string) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			s := v.String()
			for _, secret := range secrets {
				s = strings.ReplaceAll(s, secret, "***")
			}
			v.SetString(s)
		}
	case reflect.Pointer:
		if !v.IsNil() {
			redactValue(v.Elem(), secrets)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				redactValue(v.Field(i), secrets)
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			redactValue(v.Index(i), secrets)
		}
	case reflect.Map:
		// Maps hold severity counts only; their keys are severities, not free text.
	}
}

// severityLabel is a failed rule's severity as the gates table writes severities (CRITICAL,
// HIGH, ...), blank when the finding has none.
func severityLabel(s findings.Severity) string {
	if s == findings.Unknown {
		return ""
	}
	return s.Label()
}
