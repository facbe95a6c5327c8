// Package precheck assembles the offline security check of a service from its environments
// file: the Dockerfile, every environment's task definition, the IAM policy files it names,
// the service settings it declares, and each environment's landing-zone CloudFormation
// template (pipeline/infra's FG-CFN rules, with that environment's parameters), evaluated
// with the file's suppressions. It reads files through a function, so the Dagger module can
// serve them from the source directory and tests from memory.
package precheck

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"dagger/fargate/pipeline/config"
	"dagger/fargate/pipeline/infra"
	"dagger/fargate/pipeline/policy"
	"dagger/fargate/pipeline/scan"
)

// ReadFunc returns the content of a file named relative to the environments file.
type ReadFunc func(rel string) ([]byte, error)

// DockerfilePath is the Dockerfile's path relative to the environments file.
func DockerfilePath(f *config.File) string {
	return path.Join(f.App.Context, f.App.Dockerfile)
}

// Run checks every offline input the environments file names: the Dockerfile, the task
// definitions, the IAM policy files, the service settings, and each AWS environment's
// infra.template (once per template and environment, with that environment's parameters).
// A file that cannot be read or parsed is an error, never a pass.
func Run(ctx context.Context, f *config.File, read ReadFunc) (policy.Report, error) {
	in := policy.CheckInput{RequiredTags: f.Policy.RequiredTags, Suppressions: Suppressions(f)}
	dockerfile := DockerfilePath(f)
	content, err := read(dockerfile)
	if err != nil {
		return policy.Report{}, fmt.Errorf("check: read Dockerfile: %w", err)
	}
	in.Dockerfile = &policy.FileInput{Path: dockerfile, Content: content}

	seen := map[string]bool{}
	for _, name := range f.EnvironmentNames() {
		e := f.Environments[name]
		if seen[e.TaskDefinition] {
			continue
		}
		seen[e.TaskDefinition] = true
		content, err := read(e.TaskDefinition)
		if err != nil {
			return policy.Report{}, fmt.Errorf("check: read the task definition of %s: %w", name, err)
		}
		in.TaskDefinitions = append(in.TaskDefinitions, policy.TaskDefinitionInput{Path: e.TaskDefinition, Content: content})
	}
	for i, p := range f.Policy.IAMPolicies {
		content, err := read(p.File)
		if err != nil {
			return policy.Report{}, fmt.Errorf("check: read policy.iamPolicies[%d]: %w", i, err)
		}
		role, err := policy.ParseRoleKind(p.Role)
		if err != nil {
			return policy.Report{}, fmt.Errorf("check: policy.iamPolicies[%d].role: %w", i, err)
		}
		in.IAMPolicies = append(in.IAMPolicies, policy.PolicyInput{Path: p.File, Content: content, Role: role})
	}
	files, err := policy.Check(ctx, in)
	if err != nil {
		return policy.Report{}, err
	}
	reports := []policy.Report{files}
	for _, name := range f.EnvironmentNames() {
		e := f.Environments[name]
		if e.IsLocal() {
			continue
		}
		svc, err := policy.Check(ctx, policy.CheckInput{
			Service:      ServiceFacts(e),
			Env:          e.Name,
			Production:   e.Production,
			RequiredTags: f.Policy.RequiredTags,
			Suppressions: Suppressions(f),
		})
		if err != nil {
			return policy.Report{}, err
		}
		reports = append(reports, svc)
	}
	templates, err := Templates(ctx, f, read)
	if err != nil {
		return policy.Report{}, err
	}
	reports = append(reports, templates)
	return policy.Merge(reports...), nil
}

// Templates checks each AWS environment's infra.template (a path relative to the
// environments file) against the FG-CFN rules with the environment's infra.parameters, the
// app's health path and the required tags, once per (template, environment), and applies the
// file's suppressions. Environments without infra are skipped.
func Templates(ctx context.Context, f *config.File, read ReadFunc) (policy.Report, error) {
	sup, err := policy.ParseSuppressions(Suppressions(f))
	if err != nil {
		return policy.Report{}, err
	}
	bodies := map[string][]byte{}
	var findings []policy.Finding
	for _, name := range f.EnvironmentNames() {
		e := f.Environments[name]
		if e.IsLocal() || e.Infra == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return policy.Report{}, fmt.Errorf("check templates: %w", err)
		}
		body, ok := bodies[e.Infra.Template]
		if !ok {
			body, err = read(e.Infra.Template)
			if err != nil {
				return policy.Report{}, fmt.Errorf("check: read the infra template of %s: %w", name, err)
			}
			bodies[e.Infra.Template] = body
		}
		fs, err := infra.CheckTemplateInput(infra.TemplateInput{
			Path: e.Infra.Template, Body: body, Params: e.Infra.Parameters, Env: e.Name, Production: e.Production,
			HealthPath: f.App.HealthPath, RequiredTags: f.Policy.RequiredTags,
		})
		if err != nil {
			return policy.Report{}, fmt.Errorf("check: environments.%s.infra: %w", name, err)
		}
		findings = append(findings, fs...)
	}
	return policy.NewReport(findings, sup, time.Time{}), nil
}

// IaC turns a `trivy config` decision on the templates (infra.EvaluateIaCReport) into a policy
// report of FG-IAC-001 findings with the file's suppressions applied, to merge with Run's
// (policy.Merge). Evaluate with scan.Gate{FailOn: scan.AllSeverities} to report every failed
// misconfiguration and let the policy threshold decide.
func IaC(f *config.File, d *scan.Decision) (policy.Report, error) {
	sup, err := policy.ParseSuppressions(Suppressions(f))
	if err != nil {
		return policy.Report{}, err
	}
	return policy.NewReport(infra.IaCFindings(d), sup, time.Time{}), nil
}

// ServiceFacts is what the environments file says of an environment's service.
func ServiceFacts(e config.Environment) *policy.ServiceFacts {
	cb := e.CircuitBreakerEnabled()
	exec := e.ExecEnabled
	facts := &policy.ServiceFacts{
		Name:                 e.Cluster + "/" + e.Service,
		CircuitBreaker:       &cb,
		Rollback:             &cb,
		EnableExecuteCommand: &exec,
	}
	if e.Network != nil {
		public := e.Network.AssignPublicIP
		facts.AssignPublicIP = &public
	}
	facts.Delivery = &policy.DeliveryFacts{Strategy: deliveryStrategy(e.StrategyOrDefault())}
	if e.Alarms != nil {
		facts.Delivery.Alarms, facts.Delivery.AlarmRollback = e.Alarms.Names, e.Alarms.RollbackEnabled()
	}
	if e.LoadBalancer != nil {
		facts.Delivery.TestListener = e.LoadBalancer.TestListenerRule != ""
	}
	return facts
}

// deliveryStrategy is the ECS name of an environments-file strategy (rolling → ROLLING,
// blue-green → BLUE_GREEN).
func deliveryStrategy(s string) string {
	return strings.ToUpper(strings.ReplaceAll(s, "-", "_"))
}

// Suppressions converts the environments file's suppressions for the policy engine.
func Suppressions(f *config.File) []policy.Suppression {
	out := make([]policy.Suppression, 0, len(f.Policy.Suppressions))
	for _, s := range f.Policy.Suppressions {
		out = append(out, policy.Suppression{Rule: s.Rule, Resource: s.Resource, Reason: s.Reason, Expires: s.Expires.Format(time.DateOnly)})
	}
	return out
}
