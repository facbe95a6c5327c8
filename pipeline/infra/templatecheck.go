package infra

// Security rules FG-CFN-001…033 on a landing-zone CloudFormation template, parsed with
// goformation for one environment's parameters. The rules' metadata lives in the policy
// engine's registry (policy.LookupRule); the checks live here because they need the typed
// CloudFormation resources.

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/ec2"
	"github.com/awslabs/goformation/v7/cloudformation/ecr"
	"github.com/awslabs/goformation/v7/cloudformation/ecs"
	"github.com/awslabs/goformation/v7/cloudformation/elasticloadbalancingv2"
	"github.com/awslabs/goformation/v7/cloudformation/iam"
	"github.com/awslabs/goformation/v7/cloudformation/kms"
	"github.com/awslabs/goformation/v7/cloudformation/logs"
	"github.com/awslabs/goformation/v7/cloudformation/tags"
	"github.com/awslabs/goformation/v7/intrinsics"

	"dagger/fargate/pipeline/findings"
	"dagger/fargate/pipeline/policy"
)

// Template rule IDs (registered in pipeline/policy; see docs/rules.md).
const (
	RuleTemplateParameters   = "FG-CFN-001"
	RuleTemplatePublicIP     = "FG-CFN-002"
	RuleTemplateIngress      = "FG-CFN-003"
	RuleTemplateALBEgress    = "FG-CFN-004"
	RuleTemplateIAM          = "FG-CFN-005"
	RuleTemplateBoundary     = "FG-CFN-006"
	RuleTemplateKMSPolicy    = "FG-CFN-007"
	RuleTemplateKMSRotation  = "FG-CFN-008"
	RuleTemplateLogRetention = "FG-CFN-009"
	RuleTemplateLogKMS       = "FG-CFN-010"
	RuleTemplateECRScan      = "FG-CFN-011"
	RuleTemplateECRImmutable = "FG-CFN-012"
	RuleTemplateECRLifecycle = "FG-CFN-013"
	RuleTemplateECRKMS       = "FG-CFN-014"
	RuleTemplateRetained     = "FG-CFN-015"
	RuleTemplateCircuit      = "FG-CFN-016"
	RuleTemplatePlatform     = "FG-CFN-017"
	RuleTemplateExec         = "FG-CFN-018"
	RuleTemplateSpot         = "FG-CFN-019"
	RuleTemplatePropagate    = "FG-CFN-020"
	RuleTemplateDiscovery    = "FG-CFN-021"
	RuleTemplateInsights     = "FG-CFN-022"
	RuleTemplateHTTPS        = "FG-CFN-023"
	RuleTemplateRedirect     = "FG-CFN-024"
	RuleTemplateTargetGroup  = "FG-CFN-025"
	RuleTemplateHeaders      = "FG-CFN-026"
	RuleTemplateSubnets      = "FG-CFN-027"
	RuleTemplateFlowLogs     = "FG-CFN-028"
	RuleTemplateEndpoints    = "FG-CFN-029"
	RuleTemplateTags         = "FG-CFN-030"
	RuleTemplateOIDC         = "FG-CFN-031"
	RuleTemplateAlarms       = "FG-CFN-032"
	RuleTemplateBlueGreen    = "FG-CFN-033"
)

// PlaceholderValue is the value a String parameter without a default and without a value
// takes for the check (a Number takes its MinValue or 0, a parameter with AllowedValues its
// first one, a list one placeholder element). FG-CFN-001 names every parameter that took one.
const PlaceholderValue = "placeholder"

// TemplateInput is a template to check for one environment.
type TemplateInput struct {
	// Path names the template in findings ("template/<Path>#<LogicalID>") and locations.
	Path string
	Body []byte
	// Params are the environment's parameter values (environments.<env>.infra.parameters);
	// a Number parameter's value must be a number, a list parameter's is comma-separated.
	Params map[string]string
	// Env is the environment name, in messages.
	Env string
	// Production is the environment's production property: it forbids ECS Exec and Fargate
	// Spot; other environments expect Spot.
	Production bool
	// HealthPath is the target groups' expected health check path; empty skips that part of
	// FG-CFN-025.
	HealthPath string
	// RequiredTags are the tag keys every taggable resource must carry; empty skips FG-CFN-030.
	RequiredTags []string
}

// CheckTemplate checks a template for one non-production environment against every FG-CFN
// rule, with no expected health path and no required tags (see CheckTemplateInput for those
// and for production).
func CheckTemplate(path string, body []byte, params map[string]string, env string) ([]policy.Finding, error) {
	return CheckTemplateInput(TemplateInput{Path: path, Body: body, Params: params, Env: env})
}

// CheckTemplateInput parses the template with in.Params (conditions evaluated, Fn::If
// resolved, references between resources kept) and runs every FG-CFN check. A template that
// does not parse, or a parameter value the template does not declare or cannot take, is an
// error, never a pass. Findings are sorted by rule, then resource.
func CheckTemplateInput(in TemplateInput) ([]policy.Finding, error) {
	where := in.Path
	if where == "" {
		where = "template"
	}
	if len(strings.TrimSpace(string(in.Body))) == 0 {
		return nil, fmt.Errorf("check template %s: the template is empty", where)
	}
	params, placeholders, err := resolveParameters(in.Body, in.Params)
	if err != nil {
		return nil, fmt.Errorf("check template %s: %w", where, err)
	}
	p, err := parseTemplate(in.Body, params)
	if err != nil {
		return nil, fmt.Errorf("check template %s: %w", where, err)
	}
	if len(p.Resources) == 0 {
		return nil, fmt.Errorf("check template %s: no Resources (is this a CloudFormation template?)", where)
	}
	c := newChecker(p, in.Production, in.HealthPath, in.RequiredTags)
	if len(placeholders) > 0 {
		c.add(RuleTemplateParameters, "Parameters", "parameters %s have no default and no value for environment %q: checked with placeholders (%s)",
			strings.Join(placeholders, ", "), in.Env, PlaceholderValue)
	}
	c.runAll()
	return c.findings(in.Path, in.Body, in.Env)
}

// resolveParameters turns the environment's string values into the values goformation
// substitutes (numbers for Number parameters, lists for list parameters) and fills in
// placeholders for parameters that have neither a default nor a value.
func resolveParameters(body []byte, given map[string]string) (map[string]any, []string, error) {
	raw, err := intrinsics.ProcessYAML(body, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		return nil, nil, fmt.Errorf("read template: %w", err)
	}
	var top struct {
		Parameters map[string]struct {
			Type          string
			Default       any
			AllowedValues []any
			MinValue      any
		}
	}
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, nil, fmt.Errorf("read template Parameters: %w", err)
	}
	out := map[string]any{}
	var unknown []string
	for name, v := range given {
		decl, ok := top.Parameters[name]
		if !ok {
			unknown = append(unknown, name)
			continue
		}
		val, err := parameterValue(decl.Type, v)
		if err != nil {
			return nil, nil, fmt.Errorf("parameter %s: %w", name, err)
		}
		out[name] = val
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, nil, fmt.Errorf("parameters %s are given but not declared in the template's Parameters", strings.Join(unknown, ", "))
	}
	var placeholders []string
	for name, decl := range top.Parameters {
		if _, ok := out[name]; ok || decl.Default != nil {
			continue
		}
		placeholders = append(placeholders, name)
		switch {
		case len(decl.AllowedValues) > 0:
			out[name] = decl.AllowedValues[0]
		case decl.Type == "Number":
			if n, ok := decl.MinValue.(float64); ok {
				out[name] = n
			} else if s, ok := decl.MinValue.(string); ok && s != "" {
				out[name] = s
			} else {
				out[name] = 0
			}
		case isListType(decl.Type):
			out[name] = []any{PlaceholderValue}
		default:
			out[name] = PlaceholderValue
		}
	}
	sort.Strings(placeholders)
	return out, placeholders, nil
}

func isListType(t string) bool {
	return t == "CommaDelimitedList" || strings.HasPrefix(t, "List<") || strings.HasPrefix(t, "AWS::SSM::Parameter::Value<List<")
}

func parameterValue(typ, v string) (any, error) {
	switch {
	case typ == "Number":
		n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number (the parameter's Type is Number)", v)
		}
		return n, nil
	case isListType(typ):
		var out []any
		for _, e := range strings.Split(v, ",") {
			out = append(out, strings.TrimSpace(e))
		}
		return out, nil
	}
	return v, nil
}

// ---------------------------------------------------------------- template resolution

// parsed is a template resolved for one set of parameter values: parameters take their
// values, conditions are evaluated, Fn::If picks its branch, and references to resources stay
// visible as "ref:Logical" and "getatt:Logical.Attribute" (goformation's default handlers
// would turn them into nil, hiding which security group admits which).
type parsed struct {
	*cloudformation.Template
	conds map[string]bool
	// delivery holds each ECS service's deployment settings newer than goformation's types.
	delivery map[string]serviceDeliveryProps
}

// pseudo resolves the pseudo parameters to fixed example values.
func pseudo(name string) (string, bool) {
	switch name {
	case "AWS::AccountId":
		return "111122223333", true
	case "AWS::Region":
		return "eu-west-1", true
	case "AWS::Partition":
		return "aws", true
	case "AWS::StackName":
		return "stack", true
	case "AWS::URLSuffix":
		return "amazonaws.com", true
	}
	return "", false
}

func paramValue(template any, name string) (any, bool) {
	tm, _ := template.(map[string]any)
	params, _ := tm["Parameters"].(map[string]any)
	p, _ := params[name].(map[string]any)
	if p == nil {
		return nil, false
	}
	v, ok := p["Default"]
	return v, ok
}

func refHandler(_ string, input any, template any) any {
	name, _ := input.(string)
	if name == "AWS::NoValue" {
		return nil
	}
	if v, ok := pseudo(name); ok {
		return v
	}
	if v, ok := paramValue(template, name); ok {
		return v
	}
	return "ref:" + name
}

func getAttHandler(_ string, input any, _ any) any {
	switch v := input.(type) {
	case string:
		return "getatt:" + v
	case []any:
		parts := make([]string, 0, len(v))
		for _, p := range v {
			parts = append(parts, fmt.Sprint(p))
		}
		return "getatt:" + strings.Join(parts, ".")
	}
	return nil
}

var subVar = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

func subHandler(_ string, input any, template any) any {
	var src string
	vars := map[string]any{}
	switch v := input.(type) {
	case string:
		src = v
	case []any:
		if len(v) > 0 {
			src, _ = v[0].(string)
		}
		if len(v) > 1 {
			vars, _ = v[1].(map[string]any)
		}
	}
	return subVar.ReplaceAllStringFunc(src, func(m string) string {
		name := m[2 : len(m)-1]
		if v, ok := vars[name]; ok {
			return fmt.Sprint(v)
		}
		if strings.Contains(name, ".") {
			return "getatt:" + name
		}
		return fmt.Sprint(refHandler("Ref", name, template))
	})
}

// parseTemplate resolves body for params (values for parameters without a usable default).
func parseTemplate(body []byte, params map[string]any) (p *parsed, err error) {
	defer func() {
		// goformation panics on some malformed input; a template that cannot be read is an
		// error, never a crash or a pass.
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("parse template: %v", r)
		}
	}()
	// Pass 1: evaluate the Conditions section with goformation's own handlers.
	raw, err := intrinsics.ProcessYAML(body, &intrinsics.ProcessorOptions{ParameterOverrides: params})
	if err != nil {
		return nil, fmt.Errorf("process template: %w", err)
	}
	var top struct {
		Conditions map[string]any
	}
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, fmt.Errorf("process template: %w", err)
	}
	conds := map[string]bool{}
	for name, v := range top.Conditions {
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("condition %s did not evaluate to a boolean (%v)", name, v)
		}
		conds[name] = b
	}
	ifHandler := func(_ string, input any, _ any) any {
		arr, ok := input.([]any)
		if !ok || len(arr) != 3 {
			return nil
		}
		name, _ := arr[0].(string)
		if conds[name] {
			return arr[1]
		}
		return arr[2]
	}
	opts := &intrinsics.ProcessorOptions{
		ParameterOverrides: params,
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
			"Ref": refHandler, "Fn::GetAtt": getAttHandler, "Fn::Sub": subHandler, "Fn::If": ifHandler,
		},
	}
	// Pass 2: the resolved properties of the ECS services, including those newer than
	// goformation's types (deployment strategy, load balancer advanced configuration).
	delivery, err := serviceDelivery(body, opts)
	if err != nil {
		return nil, err
	}
	// Pass 3: typed resources, without the properties goformation does not know.
	typed, err := stripNewerServiceProperties(body)
	if err != nil {
		return nil, err
	}
	t, err := goformation.ParseYAMLWithOptions(typed, opts)
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	if t == nil {
		return nil, errors.New("parse template: empty template")
	}
	return &parsed{Template: t, conds: conds, delivery: delivery}, nil
}

// active lists the resources created for these parameters, sorted by logical ID.
func (p *parsed) active() []string {
	var ids []string
	for id, r := range p.Resources {
		if c := conditionOf(r); c != "" && !p.conds[c] {
			continue
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func conditionOf(r cloudformation.Resource) string {
	v := reflect.ValueOf(r)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return ""
	}
	if f := v.FieldByName("AWSCloudFormationCondition"); f.IsValid() {
		return f.String()
	}
	return ""
}

// each calls fn for every active resource of type T.
func each[T cloudformation.Resource](p *parsed, fn func(id string, r T)) {
	for _, id := range p.active() {
		if r, ok := p.Resources[id].(T); ok {
			fn(id, r)
		}
	}
}

// target returns the logical ID a "ref:X" or "getatt:X.Attr" value points to.
func target(v string) string {
	if s, ok := strings.CutPrefix(v, "ref:"); ok {
		return s
	}
	if s, ok := strings.CutPrefix(v, "getatt:"); ok {
		id, _, _ := strings.Cut(s, ".")
		return id
	}
	return ""
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func intv(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// ---------------------------------------------------------------- checks

// hit is one violation: the rule, the logical ID of the resource ("" for the template as a
// whole) and what is wrong.
type hit struct {
	rule, logical, msg string
}

type checker struct {
	p            *parsed
	prod         bool
	healthPath   string
	requiredTags []string
	hits         []hit
}

func newChecker(p *parsed, production bool, healthPath string, requiredTags []string) *checker {
	return &checker{p: p, prod: production, healthPath: healthPath, requiredTags: requiredTags}
}

func (c *checker) add(rule, logical, format string, args ...any) {
	c.hits = append(c.hits, hit{rule: rule, logical: logical, msg: fmt.Sprintf(format, args...)})
}

// runAll runs every check.
func (c *checker) runAll() {
	for _, check := range []func(*checker){
		checkNoPublicIP, checkServiceIngressOnlyFromALB, checkALBEgress, checkIAM, checkPermissionsBoundary,
		checkKMSKeys, checkLogGroups, checkECR, checkRetained, checkServiceDeployment, checkContainerInsights,
		checkListeners, checkTargetGroups, checkLoadBalancerAttributes, checkPrivateSubnets, checkFlowLogs,
		checkEndpoints, checkTags, checkOIDCTrust, checkDeploymentAlarms, checkBlueGreenWiring,
	} {
		check(c)
	}
}

// findings attaches each hit's rule metadata; resources are "template/<path>#<LogicalID>"
// ("template/<path>" for the template as a whole), located at the resource's line.
func (c *checker) findings(path string, body []byte, env string) ([]policy.Finding, error) {
	lines := resourceLines(body)
	out := make([]policy.Finding, 0, len(c.hits))
	for _, h := range c.hits {
		r, ok := policy.LookupRule(h.rule)
		if !ok {
			return nil, fmt.Errorf("check template %s: rule %s is not registered in pipeline/policy", path, h.rule)
		}
		res := "template/" + path
		if h.logical != "" {
			res += "#" + h.logical
		}
		msg := h.msg
		if env != "" {
			msg += " (environment " + env + ")"
		}
		out = append(out, policy.Finding{
			Rule: r.ID, Severity: r.Severity, Source: findings.SourceIaC, Controls: r.Controls, Resource: res, Message: msg,
			Remediation: r.Remediation, Location: policy.Location{Path: path, Line: lines[h.logical]},
		})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Rule != out[j].Rule {
			return out[i].Rule < out[j].Rule
		}
		return out[i].Resource < out[j].Resource
	})
	return out, nil
}

var (
	yamlKey = regexp.MustCompile(`^(\s*)"?([A-Za-z0-9]+)"?\s*:`)
)

// resourceLines finds, cheaply, the 1-based line where each resource (and the Parameters
// section) is declared: a key one level under "Resources", in YAML or JSON.
func resourceLines(body []byte) map[string]int {
	out := map[string]int{}
	inResources := false
	indent := -1
	for i, line := range strings.Split(string(body), "\n") {
		m := yamlKey.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		depth := len(m[1])
		if m[2] == "Resources" || m[2] == "Parameters" {
			if m[2] == "Parameters" {
				out["Parameters"] = i + 1
			}
			inResources, indent = m[2] == "Resources", -1
			continue
		}
		if !inResources {
			continue
		}
		if indent < 0 {
			indent = depth
		}
		if depth == indent {
			if _, seen := out[m[2]]; !seen {
				out[m[2]] = i + 1
			}
		}
		if depth < indent {
			inResources = false
		}
	}
	return out
}

func checkNoPublicIP(c *checker) {
	n := 0
	each(c.p, func(id string, s *ecs.Service) {
		n++
		if s.NetworkConfiguration == nil || s.NetworkConfiguration.AwsvpcConfiguration == nil ||
			str(s.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp) != "DISABLED" {
			c.add(RuleTemplatePublicIP, id, "%s: AssignPublicIp must be DISABLED", id)
		}
	})
	if n == 0 {
		c.add(RuleTemplatePublicIP, "", "no AWS::ECS::Service")
	}
}

// internetFacingSGs returns the security groups attached to internet-facing load balancers.
func internetFacingSGs(p *parsed) map[string]bool {
	sgs := map[string]bool{}
	each(p, func(id string, lb *elasticloadbalancingv2.LoadBalancer) {
		if str(lb.Scheme) == "internet-facing" {
			for _, sg := range lb.SecurityGroups {
				sgs[target(sg)] = true
			}
		}
	})
	return sgs
}

func containerPorts(s *ecs.Service) map[int]bool {
	ports := map[int]bool{}
	for _, lb := range s.LoadBalancers {
		ports[intv(lb.ContainerPort)] = true
	}
	return ports
}

func checkServiceIngressOnlyFromALB(c *checker) {
	albSGs := internetFacingSGs(c.p)
	each(c.p, func(svcID string, s *ecs.Service) {
		if s.NetworkConfiguration == nil || s.NetworkConfiguration.AwsvpcConfiguration == nil {
			c.add(RuleTemplateIngress, svcID, "%s: no awsvpc configuration", svcID)
			return
		}
		ports := containerPorts(s)
		for _, ref := range s.NetworkConfiguration.AwsvpcConfiguration.SecurityGroups {
			sgID := target(ref)
			sg, ok := c.p.Resources[sgID].(*ec2.SecurityGroup)
			if !ok {
				c.add(RuleTemplateIngress, svcID, "%s: security group %q is not declared in the template", svcID, ref)
				continue
			}
			check := func(logical, where string, cidr, cidr6, prefix *string, source *string, from, to *int) {
				if str(cidr) != "" || str(cidr6) != "" || str(prefix) != "" {
					c.add(RuleTemplateIngress, logical, "%s: %s admits an address range; only the load balancer's security group may be a source", sgID, where)
				}
				if !albSGs[target(str(source))] {
					c.add(RuleTemplateIngress, logical, "%s: %s admits %q, not an internet-facing load balancer's security group", sgID, where, str(source))
				}
				if intv(from) != intv(to) || !ports[intv(from)] {
					c.add(RuleTemplateIngress, logical, "%s: %s opens ports %d-%d, not only the container port", sgID, where, intv(from), intv(to))
				}
			}
			for i, r := range sg.SecurityGroupIngress {
				check(sgID, fmt.Sprintf("ingress rule %d", i), r.CidrIp, r.CidrIpv6, r.SourcePrefixListId, r.SourceSecurityGroupId, r.FromPort, r.ToPort)
			}
			each(c.p, func(id string, r *ec2.SecurityGroupIngress) {
				if target(str(r.GroupId)) == sgID {
					check(id, id, r.CidrIp, r.CidrIpv6, r.SourcePrefixListId, r.SourceSecurityGroupId, r.FromPort, r.ToPort)
				}
			})
		}
	})
}

// checkALBEgress: a load balancer's security group sends only to the service's on the app port.
func checkALBEgress(c *checker) {
	serviceSGs := map[string]bool{}
	each(c.p, func(_ string, s *ecs.Service) {
		if s.NetworkConfiguration != nil && s.NetworkConfiguration.AwsvpcConfiguration != nil {
			for _, sg := range s.NetworkConfiguration.AwsvpcConfiguration.SecurityGroups {
				serviceSGs[target(sg)] = true
			}
		}
	})
	lbSGs := internetFacingSGs(c.p)
	ids := make([]string, 0, len(lbSGs))
	for id := range lbSGs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, sgID := range ids {
		sg, ok := c.p.Resources[sgID].(*ec2.SecurityGroup)
		if !ok {
			c.add(RuleTemplateALBEgress, "", "load balancer security group %q is not declared in the template", sgID)
			continue
		}
		if len(sg.SecurityGroupEgress) == 0 {
			c.add(RuleTemplateALBEgress, sgID, "%s: no SecurityGroupEgress, so the default allow-all egress stays", sgID)
		}
		for i, e := range sg.SecurityGroupEgress {
			if str(e.CidrIp) == "127.0.0.1/32" { // placeholder that removes the default rule
				continue
			}
			if !serviceSGs[target(str(e.DestinationSecurityGroupId))] {
				c.add(RuleTemplateALBEgress, sgID, "%s: egress rule %d goes elsewhere than the service security group", sgID, i)
			}
		}
		each(c.p, func(id string, e *ec2.SecurityGroupEgress) {
			if target(e.GroupId) == sgID && !serviceSGs[target(str(e.DestinationSecurityGroupId))] {
				c.add(RuleTemplateALBEgress, id, "%s: egress goes elsewhere than the service security group", id)
			}
		})
	}
}

// leastPrivilege returns the options of the IAM checker for this template: the ECS Exec
// channel actions may have Resource "*" only outside production, when a service enables ECS
// Exec.
func (c *checker) leastPrivilege() policy.LeastPrivilegeOptions {
	exec := false
	each(c.p, func(_ string, s *ecs.Service) {
		exec = exec || (s.EnableExecuteCommand != nil && *s.EnableExecuteCommand)
	})
	return policy.LeastPrivilegeOptions{ExecChannels: exec && !c.prod}
}

func list(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func statements(doc any) []map[string]any {
	m, _ := doc.(map[string]any)
	var out []map[string]any
	switch s := m["Statement"].(type) {
	case map[string]any:
		out = append(out, s)
	case []any:
		for _, e := range s {
			if st, ok := e.(map[string]any); ok { // nil when Fn::If chose AWS::NoValue
				out = append(out, st)
			}
		}
	}
	return out
}

// policyStatements reads a template's policy document for the policy engine's IAM checks, one
// statement per statement of the template (conditions chosen, AWS::NoValue dropped), so the
// indexes match.
func policyStatements(doc any) []policy.Statement {
	var out []policy.Statement
	for _, st := range statements(doc) {
		effect, _ := st["Effect"].(string)
		out = append(out, policy.Statement{Effect: effect, Action: list(st["Action"]), NotAction: list(st["NotAction"]),
			Resource: list(st["Resource"]), NotResource: list(st["NotResource"]), Condition: condition(st["Condition"])})
	}
	return out
}

// condition reads a Condition block: operator → key → a value or a list of values.
func condition(v any) policy.Condition {
	ops, _ := v.(map[string]any)
	out := policy.Condition{}
	for op, keys := range ops {
		km, _ := keys.(map[string]any)
		out[op] = map[string][]string{}
		for k, vals := range km {
			switch x := vals.(type) {
			case []any:
				for _, e := range x {
					out[op][k] = append(out[op][k], fmt.Sprint(e))
				}
			default:
				out[op][k] = []string{fmt.Sprint(x)}
			}
		}
	}
	return out
}

// checkPolicyDoc runs the policy engine's least-privilege checker (policy.LeastPrivilege) over
// one policy document of the template.
func (c *checker) checkPolicyDoc(logical, where string, doc any, opts policy.LeastPrivilegeOptions) {
	notReported := map[int]bool{}
	for _, is := range policy.LeastPrivilege(policyStatements(doc), opts) {
		switch is.Kind {
		case policy.IssueNotAction, policy.IssueNotResource:
			if !notReported[is.Statement] {
				notReported[is.Statement] = true
				c.add(RuleTemplateIAM, logical, "%s statement %d: NotAction/NotResource grant everything else", where, is.Statement)
			}
		case policy.IssueWildcardAction:
			c.add(RuleTemplateIAM, logical, "%s statement %d: wildcard action %q", where, is.Statement, is.Action)
		case policy.IssueWildcardResource:
			for _, a := range is.Actions {
				c.add(RuleTemplateIAM, logical, "%s statement %d: Resource %q for %s, which supports resource-level permissions", where, is.Statement, is.Resource, a)
			}
			if len(is.Actions) == 0 {
				c.add(RuleTemplateIAM, logical, "%s statement %d: Resource %q with NotAction", where, is.Statement, is.Resource)
			}
		}
	}
}

func checkIAM(c *checker) {
	allowed := c.leastPrivilege()
	each(c.p, func(id string, r *iam.Role) {
		for _, pol := range r.Policies {
			c.checkPolicyDoc(id, id+"/"+pol.PolicyName, pol.PolicyDocument, allowed)
		}
		if len(r.ManagedPolicyArns) > 0 {
			c.add(RuleTemplateIAM, id, "%s: managed policies %v are not reviewed here; inline least-privilege policies only", id, r.ManagedPolicyArns)
		}
	})
	each(c.p, func(id string, r *iam.ManagedPolicy) { c.checkPolicyDoc(id, id, r.PolicyDocument, allowed) })
	each(c.p, func(id string, r *iam.Policy) { c.checkPolicyDoc(id, id, r.PolicyDocument, allowed) })
}

// checkPermissionsBoundary: the roles ECS tasks assume carry a boundary declared in the template.
func checkPermissionsBoundary(c *checker) {
	each(c.p, func(id string, r *iam.Role) {
		for _, st := range statements(r.AssumeRolePolicyDocument) {
			principal, _ := st["Principal"].(map[string]any)
			if !slices.Contains(list(principal["Service"]), "ecs-tasks.amazonaws.com") {
				continue
			}
			if _, ok := c.p.Resources[target(str(r.PermissionsBoundary))].(*iam.ManagedPolicy); !ok {
				c.add(RuleTemplateBoundary, id, "%s: task role without a permissions boundary from the template", id)
			}
		}
	})
}

func checkKMSKeys(c *checker) {
	each(c.p, func(id string, k *kms.Key) {
		for i, st := range statements(k.KeyPolicy) {
			if st["Effect"] != "Allow" {
				continue
			}
			principal, _ := st["Principal"].(map[string]any)
			root := len(list(principal["AWS"])) == 1 && strings.HasSuffix(list(principal["AWS"])[0], ":root")
			for _, a := range list(st["Action"]) {
				if policy.WildcardAction(a) && !root {
					c.add(RuleTemplateKMSPolicy, id, "%s statement %d: wildcard action %q for a principal other than the account root", id, i, a)
				}
			}
			if principal["AWS"] == "*" || principal["AWS"] == nil && principal["Service"] == nil {
				c.add(RuleTemplateKMSPolicy, id, "%s statement %d: open principal", id, i)
			}
		}
		if k.KeySpec == nil || str(k.KeySpec) == "SYMMETRIC_DEFAULT" {
			if k.EnableKeyRotation == nil || !*k.EnableKeyRotation {
				c.add(RuleTemplateKMSRotation, id, "%s: symmetric key without rotation", id)
			}
		}
	})
}

func checkLogGroups(c *checker) {
	n := 0
	each(c.p, func(id string, g *logs.LogGroup) {
		n++
		if intv(g.RetentionInDays) <= 0 {
			c.add(RuleTemplateLogRetention, id, "%s: no retention period", id)
		}
		if _, ok := c.p.Resources[target(str(g.KmsKeyId))].(*kms.Key); !ok {
			c.add(RuleTemplateLogKMS, id, "%s: not encrypted with a KMS key from the template", id)
		}
	})
	if n == 0 {
		c.add(RuleTemplateLogRetention, "", "no log group: the service's logs have no declared retention")
	}
}

func checkECR(c *checker) {
	n := 0
	each(c.p, func(id string, r *ecr.Repository) {
		n++
		if str(r.ImageTagMutability) != "IMMUTABLE" {
			c.add(RuleTemplateECRImmutable, id, "%s: tags are mutable", id)
		}
		if r.ImageScanningConfiguration == nil || r.ImageScanningConfiguration.ScanOnPush == nil || !*r.ImageScanningConfiguration.ScanOnPush {
			c.add(RuleTemplateECRScan, id, "%s: no scan on push", id)
		}
		if r.EncryptionConfiguration == nil || r.EncryptionConfiguration.EncryptionType != "KMS" {
			c.add(RuleTemplateECRKMS, id, "%s: not KMS-encrypted", id)
		} else if _, ok := c.p.Resources[target(str(r.EncryptionConfiguration.KmsKey))].(*kms.Key); !ok {
			c.add(RuleTemplateECRKMS, id, "%s: not encrypted with a customer-managed key from the template", id)
		}
		if r.LifecyclePolicy == nil || !json.Valid([]byte(str(r.LifecyclePolicy.LifecyclePolicyText))) {
			c.add(RuleTemplateECRLifecycle, id, "%s: no valid lifecycle policy", id)
		}
		if r.EmptyOnDelete != nil && *r.EmptyOnDelete {
			c.add(RuleTemplateRetained, id, "%s: EmptyOnDelete deletes images with the stack", id)
		}
	})
	if n == 0 {
		c.add(RuleTemplateECRScan, "", "no ECR repository: its scanning settings cannot be checked")
	}
}

// checkRetained: stateful resources survive stack deletion and replacement.
func checkRetained(c *checker) {
	for _, id := range c.p.active() {
		r := c.p.Resources[id]
		typ := r.AWSCloudFormationType()
		if !IsStateful(typ) || typ == "AWS::KMS::Alias" || typ == "AWS::EC2::VPC" {
			continue
		}
		v := reflect.ValueOf(r)
		if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
			continue
		}
		v = v.Elem()
		if v.FieldByName("AWSCloudFormationDeletionPolicy").String() != "Retain" ||
			v.FieldByName("AWSCloudFormationUpdateReplacePolicy").String() != "Retain" {
			c.add(RuleTemplateRetained, id, "%s (%s): DeletionPolicy and UpdateReplacePolicy must be Retain", id, typ)
		}
	}
}

func checkServiceDeployment(c *checker) {
	each(c.p, func(id string, s *ecs.Service) {
		dc := s.DeploymentConfiguration
		if dc == nil || dc.DeploymentCircuitBreaker == nil || !dc.DeploymentCircuitBreaker.Enable || !dc.DeploymentCircuitBreaker.Rollback {
			c.add(RuleTemplateCircuit, id, "%s: deployment circuit breaker with rollback is off", id)
		}
		if str(s.PlatformVersion) != "LATEST" {
			c.add(RuleTemplatePlatform, id, "%s: PlatformVersion %q, want LATEST", id, str(s.PlatformVersion))
		}
		if str(s.PropagateTags) != "SERVICE" {
			c.add(RuleTemplatePropagate, id, "%s: PropagateTags %q, want SERVICE", id, str(s.PropagateTags))
		}
		if c.prod && s.EnableExecuteCommand != nil && *s.EnableExecuteCommand {
			c.add(RuleTemplateExec, id, "%s: ECS Exec enabled in prod", id)
		}
		spot := false
		for _, cp := range s.CapacityProviderStrategy {
			if str(cp.CapacityProvider) == "FARGATE_SPOT" && intv(cp.Weight) > 0 {
				spot = true
			}
		}
		if c.prod && spot {
			c.add(RuleTemplateSpot, id, "%s: Fargate Spot in prod", id)
		}
		if !c.prod && !spot {
			c.add(RuleTemplateSpot, id, "%s: no Fargate Spot outside prod", id)
		}
		if s.ServiceConnectConfiguration == nil && len(s.ServiceRegistries) == 0 {
			c.add(RuleTemplateDiscovery, id, "%s: neither Service Connect nor Cloud Map registration", id)
		}
	})
}

func checkContainerInsights(c *checker) {
	n := 0
	each(c.p, func(id string, cl *ecs.Cluster) {
		n++
		on := false
		for _, s := range cl.ClusterSettings {
			if str(s.Name) == "containerInsights" && (str(s.Value) == "enabled" || str(s.Value) == "enhanced") {
				on = true
			}
		}
		if !on {
			c.add(RuleTemplateInsights, id, "%s: Container Insights is off", id)
		}
	})
	if n == 0 {
		c.add(RuleTemplateInsights, "", "no ECS cluster: Container Insights cannot be checked")
	}
}

// TLS 1.2+ listener policies (ELB documentation, "Security policies for your Application Load Balancer").
var tlsPolicies = map[string]bool{
	"ELBSecurityPolicy-TLS13-1-2-2021-06": true, "ELBSecurityPolicy-TLS13-1-2-Res-2021-06": true,
	"ELBSecurityPolicy-TLS13-1-3-2021-06": true, "ELBSecurityPolicy-TLS13-1-2-PQ-2025-09": true,
	"ELBSecurityPolicy-TLS13-1-3-PQ-2025-09": true, "ELBSecurityPolicy-TLS-1-2-Ext-2018-06": true,
	"ELBSecurityPolicy-FS-1-2-Res-2020-10": true,
}

func checkListeners(c *checker) {
	https := 0
	each(c.p, func(id string, l *elasticloadbalancingv2.Listener) {
		switch str(l.Protocol) {
		case "HTTPS":
			https++
			if !tlsPolicies[str(l.SslPolicy)] {
				c.add(RuleTemplateHTTPS, id, "%s: TLS policy %q allows less than TLS 1.2", id, str(l.SslPolicy))
			}
			if len(l.Certificates) == 0 {
				c.add(RuleTemplateHTTPS, id, "%s: no certificate", id)
			}
		case "HTTP":
			for _, a := range l.DefaultActions {
				if a.Type != "redirect" || a.RedirectConfig == nil || str(a.RedirectConfig.Protocol) != "HTTPS" ||
					!strings.HasPrefix(a.RedirectConfig.StatusCode, "HTTP_30") {
					c.add(RuleTemplateRedirect, id, "%s: HTTP listener does not redirect to HTTPS", id)
				}
			}
		default:
			c.add(RuleTemplateHTTPS, id, "%s: protocol %q", id, str(l.Protocol))
		}
	})
	if https == 0 {
		c.add(RuleTemplateHTTPS, "", "no HTTPS listener")
	}
}

func checkTargetGroups(c *checker) {
	each(c.p, func(id string, tg *elasticloadbalancingv2.TargetGroup) {
		if c.healthPath != "" && str(tg.HealthCheckPath) != c.healthPath {
			c.add(RuleTemplateTargetGroup, id, "%s: health check path %q, want %q", id, str(tg.HealthCheckPath), c.healthPath)
		}
		if str(tg.TargetType) != "ip" {
			c.add(RuleTemplateTargetGroup, id, "%s: target type %q, want ip (awsvpc tasks)", id, str(tg.TargetType))
		}
		delay := 300 // the ELB default
		for _, a := range tg.TargetGroupAttributes {
			if str(a.Key) == "deregistration_delay.timeout_seconds" {
				d, err := strconv.Atoi(str(a.Value))
				if err != nil {
					c.add(RuleTemplateTargetGroup, id, "%s: deregistration delay %q is not a number of seconds", id, str(a.Value))
					continue
				}
				delay = d
			}
		}
		if delay > 60 {
			c.add(RuleTemplateTargetGroup, id, "%s: deregistration delay %ds slows every deploy", id, delay)
		}
	})
}

func checkLoadBalancerAttributes(c *checker) {
	each(c.p, func(id string, lb *elasticloadbalancingv2.LoadBalancer) {
		drop := false
		for _, a := range lb.LoadBalancerAttributes {
			if str(a.Key) == "routing.http.drop_invalid_header_fields.enabled" && str(a.Value) == "true" {
				drop = true
			}
		}
		if !drop && str(lb.Type) != "network" && str(lb.Type) != "gateway" {
			c.add(RuleTemplateHeaders, id, "%s: invalid header fields are not dropped", id)
		}
	})
}

// routesToIGW reports whether a route table has a route through an internet gateway.
func routesToIGW(p *parsed, rtID string) bool {
	found := false
	each(p, func(_ string, r *ec2.Route) {
		if target(r.RouteTableId) != rtID {
			return
		}
		if _, ok := p.Resources[target(str(r.GatewayId))].(*ec2.InternetGateway); ok {
			found = true
		}
	})
	return found
}

func subnetRouteTables(p *parsed, subnetID string) []string {
	var rts []string
	each(p, func(_ string, a *ec2.SubnetRouteTableAssociation) {
		if target(a.SubnetId) == subnetID {
			rts = append(rts, target(a.RouteTableId))
		}
	})
	return rts
}

func checkPrivateSubnets(c *checker) {
	each(c.p, func(svcID string, s *ecs.Service) {
		if s.NetworkConfiguration == nil || s.NetworkConfiguration.AwsvpcConfiguration == nil {
			return
		}
		azs := map[string]bool{}
		for _, ref := range s.NetworkConfiguration.AwsvpcConfiguration.Subnets {
			id := target(ref)
			sn, ok := c.p.Resources[id].(*ec2.Subnet)
			if !ok {
				c.add(RuleTemplateSubnets, svcID, "%s: subnet %q not declared in the template", svcID, ref)
				continue
			}
			azs[fmt.Sprint(sn.AvailabilityZone)] = true
			if sn.MapPublicIpOnLaunch != nil && *sn.MapPublicIpOnLaunch {
				c.add(RuleTemplateSubnets, id, "%s: task subnet maps public IPs", id)
			}
			rts := subnetRouteTables(c.p, id)
			if len(rts) == 0 {
				c.add(RuleTemplateSubnets, id, "%s: task subnet uses the VPC main route table", id)
			}
			for _, rt := range rts {
				if routesToIGW(c.p, rt) {
					c.add(RuleTemplateSubnets, id, "%s: task subnet routes to the internet gateway through %s", id, rt)
				}
			}
		}
		if len(azs) < 2 {
			c.add(RuleTemplateSubnets, svcID, "%s: tasks in fewer than two availability zones", svcID)
		}
	})
	each(c.p, func(lbID string, lb *elasticloadbalancingv2.LoadBalancer) {
		if str(lb.Scheme) == "internal" {
			return
		}
		for _, ref := range lb.Subnets {
			ok := false
			for _, rt := range subnetRouteTables(c.p, target(ref)) {
				ok = ok || routesToIGW(c.p, rt)
			}
			if !ok {
				c.add(RuleTemplateSubnets, lbID, "%s: subnet %s has no internet route", lbID, target(ref))
			}
		}
	})
}

func checkFlowLogs(c *checker) {
	each(c.p, func(vpcID string, _ *ec2.VPC) {
		on := false
		each(c.p, func(id string, f *ec2.FlowLog) {
			if target(f.ResourceId) != vpcID || f.ResourceType != "VPC" {
				return
			}
			on = true
			if str(f.TrafficType) != "ALL" {
				c.add(RuleTemplateFlowLogs, id, "%s: flow log records %q traffic, want ALL", id, str(f.TrafficType))
			}
			if _, ok := c.p.Resources[target(str(f.LogGroupName))].(*logs.LogGroup); !ok && str(f.LogDestinationType) != "s3" {
				c.add(RuleTemplateFlowLogs, id, "%s: flow log group not declared in the template (retention unknown)", id)
			}
		})
		if !on {
			c.add(RuleTemplateFlowLogs, vpcID, "%s: no VPC flow log", vpcID)
		}
	})
}

var endpointService = regexp.MustCompile(`^com\.amazonaws\.[a-z0-9-]+\.`)

func checkEndpoints(c *checker) {
	vpcs := 0
	each(c.p, func(string, *ec2.VPC) { vpcs++ })
	have := map[string]string{}
	each(c.p, func(id string, e *ec2.VPCEndpoint) {
		svc := endpointService.ReplaceAllString(e.ServiceName, "")
		have[svc] = str(e.VpcEndpointType)
		if str(e.VpcEndpointType) == "Interface" && (e.PrivateDnsEnabled == nil || !*e.PrivateDnsEnabled) {
			c.add(RuleTemplateEndpoints, id, "%s endpoint without private DNS: tasks would still resolve the public endpoint", svc)
		}
	})
	if vpcs == 0 && len(have) == 0 {
		return // the VPC is not this template's: its endpoints are checked where it is declared
	}
	for _, svc := range []string{"ecr.api", "ecr.dkr", "logs", "secretsmanager", "s3"} {
		typ := "Interface"
		if svc == "s3" {
			typ = "Gateway"
		}
		if have[svc] != typ {
			c.add(RuleTemplateEndpoints, "", "no %s endpoint for %s", typ, svc)
		}
	}
}

func checkTags(c *checker) {
	if len(c.requiredTags) == 0 {
		return
	}
	for _, id := range c.p.active() {
		v := reflect.ValueOf(c.p.Resources[id])
		if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
			continue
		}
		f := v.Elem().FieldByName("Tags")
		if !f.IsValid() {
			continue // not taggable
		}
		got := map[string]string{}
		switch t := f.Interface().(type) {
		case []tags.Tag:
			for _, tag := range t {
				got[tag.Key] = tag.Value
			}
		case map[string]string:
			got = t
		default:
			continue
		}
		for _, k := range c.requiredTags {
			if got[k] == "" {
				c.add(RuleTemplateTags, id, "%s (%s): missing tag %s", id, c.p.Resources[id].AWSCloudFormationType(), k)
			}
		}
	}
}

var githubSub = regexp.MustCompile(`^repo:[A-Za-z0-9-]+/[A-Za-z0-9._-]+:(environment:[A-Za-z0-9_-]+|ref:refs/heads/main)$`)

func checkOIDCTrust(c *checker) {
	n := 0
	each(c.p, func(id string, r *iam.Role) {
		for i, st := range statements(r.AssumeRolePolicyDocument) {
			if !policy.GrantsAction(policy.Statement{Action: list(st["Action"])}, "sts:AssumeRoleWithWebIdentity") {
				continue
			}
			n++
			where := fmt.Sprintf("%s trust statement %d", id, i)
			cond, _ := st["Condition"].(map[string]any)
			eq, _ := cond["StringEquals"].(map[string]any)
			like, _ := cond["StringLike"].(map[string]any)
			if aud := list(eq["token.actions.githubusercontent.com:aud"]); len(aud) != 1 || aud[0] != "sts.amazonaws.com" {
				c.add(RuleTemplateOIDC, id, "%s: aud is not limited to sts.amazonaws.com", where)
			}
			subs := append(list(eq["token.actions.githubusercontent.com:sub"]), list(like["token.actions.githubusercontent.com:sub"])...)
			if len(subs) == 0 {
				c.add(RuleTemplateOIDC, id, "%s: sub is not restricted: any GitHub repository could assume the role", where)
			}
			for _, s := range subs {
				if !githubSub.MatchString(s) {
					c.add(RuleTemplateOIDC, id, "%s: sub %q is not one repository's environment or main branch", where, s)
				}
			}
		}
	})
	if n == 0 {
		c.add(RuleTemplateOIDC, "", "no GitHub OIDC deploy role")
	}
}
