package infra

// Security assertions on CloudFormation templates parsed with goformation. Each check returns
// the problems it found (empty when the template passes), so the same helpers run against the
// real templates (expecting none) and against a deliberately broken template (expecting each
// one to fire).

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
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
)

// parsed is a template resolved for one set of parameter values: parameters take their
// values, conditions are evaluated, Fn::If picks its branch, and references to resources stay
// visible as "ref:Logical" and "getatt:Logical.Attribute" (goformation's default handlers
// would turn them into nil, hiding which security group admits which).
type parsed struct {
	*cloudformation.Template
	conds map[string]bool
}

func pseudo(name string) (string, bool) {
	v, ok := map[string]string{
		"AWS::AccountId": "111122223333", "AWS::Region": "eu-west-1", "AWS::Partition": "aws",
		"AWS::StackName": "stack", "AWS::URLSuffix": "amazonaws.com",
	}[name]
	return v, ok
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
func parseTemplate(body []byte, params map[string]any) (*parsed, error) {
	// Pass 1: evaluate the Conditions section with goformation's own handlers.
	raw, err := intrinsics.ProcessYAML(body, &intrinsics.ProcessorOptions{ParameterOverrides: params})
	if err != nil {
		return nil, fmt.Errorf("process template: %w", err)
	}
	var top struct {
		Conditions map[string]any
	}
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, err
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
	// Pass 2: typed resources.
	t, err := goformation.ParseYAMLWithOptions(body, &intrinsics.ProcessorOptions{
		ParameterOverrides: params,
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
			"Ref": refHandler, "Fn::GetAtt": getAttHandler, "Fn::Sub": subHandler, "Fn::If": ifHandler,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	return &parsed{Template: t, conds: conds}, nil
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

type problems []string

func (ps *problems) addf(format string, args ...any) { *ps = append(*ps, fmt.Sprintf(format, args...)) }

func checkNoPublicIP(p *parsed) problems {
	var out problems
	n := 0
	each(p, func(id string, s *ecs.Service) {
		n++
		if s.NetworkConfiguration == nil || s.NetworkConfiguration.AwsvpcConfiguration == nil ||
			str(s.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp) != "DISABLED" {
			out.addf("%s: AssignPublicIp must be DISABLED", id)
		}
	})
	if n == 0 {
		out.addf("no AWS::ECS::Service")
	}
	return out
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

func checkServiceIngressOnlyFromALB(p *parsed) problems {
	var out problems
	albSGs := internetFacingSGs(p)
	each(p, func(svcID string, s *ecs.Service) {
		if s.NetworkConfiguration == nil || s.NetworkConfiguration.AwsvpcConfiguration == nil {
			out.addf("%s: no awsvpc configuration", svcID)
			return
		}
		ports := containerPorts(s)
		for _, ref := range s.NetworkConfiguration.AwsvpcConfiguration.SecurityGroups {
			sgID := target(ref)
			sg, ok := p.Resources[sgID].(*ec2.SecurityGroup)
			if !ok {
				out.addf("%s: security group %q is not declared in the template", svcID, ref)
				continue
			}
			check := func(where string, cidr, cidr6, prefix *string, source *string, from, to *int) {
				if str(cidr) != "" || str(cidr6) != "" || str(prefix) != "" {
					out.addf("%s: %s admits an address range; only the load balancer's security group may be a source", sgID, where)
				}
				if !albSGs[target(str(source))] {
					out.addf("%s: %s admits %q, not an internet-facing load balancer's security group", sgID, where, str(source))
				}
				if intv(from) != intv(to) || !ports[intv(from)] {
					out.addf("%s: %s opens ports %d-%d, not only the container port", sgID, where, intv(from), intv(to))
				}
			}
			for i, r := range sg.SecurityGroupIngress {
				check(fmt.Sprintf("ingress rule %d", i), r.CidrIp, r.CidrIpv6, r.SourcePrefixListId, r.SourceSecurityGroupId, r.FromPort, r.ToPort)
			}
			each(p, func(id string, r *ec2.SecurityGroupIngress) {
				if target(str(r.GroupId)) == sgID {
					check(id, r.CidrIp, r.CidrIpv6, r.SourcePrefixListId, r.SourceSecurityGroupId, r.FromPort, r.ToPort)
				}
			})
		}
	})
	return out
}

// checkALBEgress: a load balancer's security group sends only to the service's on the app port.
func checkALBEgress(p *parsed) problems {
	var out problems
	serviceSGs := map[string]bool{}
	each(p, func(_ string, s *ecs.Service) {
		if s.NetworkConfiguration != nil && s.NetworkConfiguration.AwsvpcConfiguration != nil {
			for _, sg := range s.NetworkConfiguration.AwsvpcConfiguration.SecurityGroups {
				serviceSGs[target(sg)] = true
			}
		}
	})
	for sgID := range internetFacingSGs(p) {
		sg, ok := p.Resources[sgID].(*ec2.SecurityGroup)
		if !ok {
			out.addf("load balancer security group %s is not declared", sgID)
			continue
		}
		if len(sg.SecurityGroupEgress) == 0 {
			out.addf("%s: no SecurityGroupEgress, so the default allow-all egress stays", sgID)
		}
		for i, e := range sg.SecurityGroupEgress {
			if str(e.CidrIp) == "127.0.0.1/32" { // placeholder that removes the default rule
				continue
			}
			if !serviceSGs[target(str(e.DestinationSecurityGroupId))] {
				out.addf("%s: egress rule %d goes elsewhere than the service security group", sgID, i)
			}
		}
		each(p, func(id string, e *ec2.SecurityGroupEgress) {
			if target(e.GroupId) == sgID && !serviceSGs[target(str(e.DestinationSecurityGroupId))] {
				out.addf("%s: egress goes elsewhere than the service security group", id)
			}
		})
	}
	return out
}

// Wildcard resources are allowed only for actions without resource-level permissions.
var (
	// ecr:GetAuthorizationToken only accepts "*".
	wildcardAllowedDefault = map[string]bool{"ecr:GetAuthorizationToken": true}
	// ECS Exec's SSM message channels only accept "*"; present only when ECS Exec is on (never in prod).
	wildcardAllowedExec = map[string]bool{
		"ecr:GetAuthorizationToken": true, "ssmmessages:CreateControlChannel": true, "ssmmessages:CreateDataChannel": true,
		"ssmmessages:OpenControlChannel": true, "ssmmessages:OpenDataChannel": true,
	}
)

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

func checkPolicyDoc(where string, doc any, allowed map[string]bool, out *problems) {
	for i, st := range statements(doc) {
		if st["Effect"] != "Allow" {
			continue
		}
		if st["NotAction"] != nil || st["NotResource"] != nil {
			out.addf("%s statement %d: NotAction/NotResource grant everything else", where, i)
		}
		actions := list(st["Action"])
		for _, a := range actions {
			if strings.Contains(a, "*") {
				out.addf("%s statement %d: wildcard action %q", where, i, a)
			}
		}
		for _, r := range list(st["Resource"]) {
			if r != "*" {
				continue
			}
			for _, a := range actions {
				if !allowed[a] {
					out.addf("%s statement %d: Resource \"*\" for %s, which supports resource-level permissions", where, i, a)
				}
			}
		}
	}
}

func checkIAM(p *parsed, allowed map[string]bool) problems {
	var out problems
	each(p, func(id string, r *iam.Role) {
		for _, pol := range r.Policies {
			checkPolicyDoc(id+"/"+pol.PolicyName, pol.PolicyDocument, allowed, &out)
		}
		if len(r.ManagedPolicyArns) > 0 {
			out.addf("%s: managed policies %v are not reviewed here; inline least-privilege policies only", id, r.ManagedPolicyArns)
		}
	})
	each(p, func(id string, r *iam.ManagedPolicy) { checkPolicyDoc(id, r.PolicyDocument, allowed, &out) })
	each(p, func(id string, r *iam.Policy) { checkPolicyDoc(id, r.PolicyDocument, allowed, &out) })
	return out
}

// checkPermissionsBoundary: the roles ECS tasks assume carry a boundary declared in the template.
func checkPermissionsBoundary(p *parsed) problems {
	var out problems
	each(p, func(id string, r *iam.Role) {
		for _, st := range statements(r.AssumeRolePolicyDocument) {
			principal, _ := st["Principal"].(map[string]any)
			if !contains(list(principal["Service"]), "ecs-tasks.amazonaws.com") {
				continue
			}
			if _, ok := p.Resources[target(str(r.PermissionsBoundary))].(*iam.ManagedPolicy); !ok {
				out.addf("%s: task role without a permissions boundary from the template", id)
			}
		}
	})
	return out
}

func checkKMSKeyPolicies(p *parsed) problems {
	var out problems
	each(p, func(id string, k *kms.Key) {
		for i, st := range statements(k.KeyPolicy) {
			if st["Effect"] != "Allow" {
				continue
			}
			principal, _ := st["Principal"].(map[string]any)
			for _, a := range list(st["Action"]) {
				if strings.Contains(a, "*") && !(len(list(principal["AWS"])) == 1 && strings.HasSuffix(list(principal["AWS"])[0], ":root")) {
					out.addf("%s statement %d: wildcard action %q for a principal other than the account root", id, i, a)
				}
			}
			if principal["AWS"] == "*" || principal["AWS"] == nil && principal["Service"] == nil {
				out.addf("%s statement %d: open principal", id, i)
			}
		}
		if k.KeySpec == nil || str(k.KeySpec) == "SYMMETRIC_DEFAULT" {
			if k.EnableKeyRotation == nil || !*k.EnableKeyRotation {
				out.addf("%s: symmetric key without rotation", id)
			}
		}
	})
	return out
}

func checkLogGroups(p *parsed) problems {
	var out problems
	n := 0
	each(p, func(id string, g *logs.LogGroup) {
		n++
		if intv(g.RetentionInDays) <= 0 {
			out.addf("%s: no retention period", id)
		}
		if _, ok := p.Resources[target(str(g.KmsKeyId))].(*kms.Key); !ok {
			out.addf("%s: not encrypted with a KMS key from the template", id)
		}
	})
	if n == 0 {
		out.addf("no log group")
	}
	return out
}

func checkECR(p *parsed) problems {
	var out problems
	n := 0
	each(p, func(id string, r *ecr.Repository) {
		n++
		if str(r.ImageTagMutability) != "IMMUTABLE" {
			out.addf("%s: tags are mutable", id)
		}
		if r.ImageScanningConfiguration == nil || r.ImageScanningConfiguration.ScanOnPush == nil || !*r.ImageScanningConfiguration.ScanOnPush {
			out.addf("%s: no scan on push", id)
		}
		if r.EncryptionConfiguration == nil || r.EncryptionConfiguration.EncryptionType != "KMS" {
			out.addf("%s: not KMS-encrypted", id)
		} else if _, ok := p.Resources[target(str(r.EncryptionConfiguration.KmsKey))].(*kms.Key); !ok {
			out.addf("%s: not encrypted with a customer-managed key from the template", id)
		}
		if r.LifecyclePolicy == nil || !json.Valid([]byte(str(r.LifecyclePolicy.LifecyclePolicyText))) {
			out.addf("%s: no valid lifecycle policy", id)
		}
		if r.EmptyOnDelete != nil && *r.EmptyOnDelete {
			out.addf("%s: EmptyOnDelete deletes images with the stack", id)
		}
	})
	if n == 0 {
		out.addf("no ECR repository")
	}
	return out
}

// checkRetained: stateful resources survive stack deletion and replacement.
func checkRetained(p *parsed) problems {
	var out problems
	for _, id := range p.active() {
		r := p.Resources[id]
		if !IsStateful(r.AWSCloudFormationType()) || r.AWSCloudFormationType() == "AWS::KMS::Alias" || r.AWSCloudFormationType() == "AWS::EC2::VPC" {
			continue
		}
		v := reflect.ValueOf(r).Elem()
		if v.FieldByName("AWSCloudFormationDeletionPolicy").String() != "Retain" ||
			v.FieldByName("AWSCloudFormationUpdateReplacePolicy").String() != "Retain" {
			out.addf("%s (%s): DeletionPolicy and UpdateReplacePolicy must be Retain", id, r.AWSCloudFormationType())
		}
	}
	return out
}

func checkServiceDeployment(p *parsed, prod bool) problems {
	var out problems
	each(p, func(id string, s *ecs.Service) {
		dc := s.DeploymentConfiguration
		if dc == nil || dc.DeploymentCircuitBreaker == nil || !dc.DeploymentCircuitBreaker.Enable || !dc.DeploymentCircuitBreaker.Rollback {
			out.addf("%s: deployment circuit breaker with rollback is off", id)
		}
		if str(s.PlatformVersion) != "LATEST" {
			out.addf("%s: PlatformVersion %q, want LATEST", id, str(s.PlatformVersion))
		}
		if str(s.PropagateTags) != "SERVICE" {
			out.addf("%s: PropagateTags %q, want SERVICE", id, str(s.PropagateTags))
		}
		if prod && s.EnableExecuteCommand != nil && *s.EnableExecuteCommand {
			out.addf("%s: ECS Exec enabled in prod", id)
		}
		spot := false
		for _, c := range s.CapacityProviderStrategy {
			if str(c.CapacityProvider) == "FARGATE_SPOT" && intv(c.Weight) > 0 {
				spot = true
			}
		}
		if prod && spot {
			out.addf("%s: Fargate Spot in prod", id)
		}
		if !prod && !spot {
			out.addf("%s: no Fargate Spot outside prod", id)
		}
		if s.ServiceConnectConfiguration == nil && len(s.ServiceRegistries) == 0 {
			out.addf("%s: neither Service Connect nor Cloud Map registration", id)
		}
	})
	return out
}

func checkContainerInsights(p *parsed) problems {
	var out problems
	n := 0
	each(p, func(id string, c *ecs.Cluster) {
		n++
		on := false
		for _, s := range c.ClusterSettings {
			if str(s.Name) == "containerInsights" && (str(s.Value) == "enabled" || str(s.Value) == "enhanced") {
				on = true
			}
		}
		if !on {
			out.addf("%s: Container Insights is off", id)
		}
	})
	if n == 0 {
		out.addf("no ECS cluster")
	}
	return out
}

// TLS 1.2+ listener policies (ELB documentation, "Security policies for your Application Load Balancer").
var tlsPolicies = map[string]bool{
	"ELBSecurityPolicy-TLS13-1-2-2021-06": true, "ELBSecurityPolicy-TLS13-1-2-Res-2021-06": true,
	"ELBSecurityPolicy-TLS13-1-3-2021-06": true, "ELBSecurityPolicy-TLS13-1-2-PQ-2025-09": true,
	"ELBSecurityPolicy-TLS13-1-3-PQ-2025-09": true, "ELBSecurityPolicy-TLS-1-2-Ext-2018-06": true,
	"ELBSecurityPolicy-FS-1-2-Res-2020-10": true,
}

func checkListeners(p *parsed) problems {
	var out problems
	https := 0
	each(p, func(id string, l *elasticloadbalancingv2.Listener) {
		switch str(l.Protocol) {
		case "HTTPS":
			https++
			if !tlsPolicies[str(l.SslPolicy)] {
				out.addf("%s: TLS policy %q allows less than TLS 1.2", id, str(l.SslPolicy))
			}
			if len(l.Certificates) == 0 {
				out.addf("%s: no certificate", id)
			}
		case "HTTP":
			for _, a := range l.DefaultActions {
				if a.Type != "redirect" || a.RedirectConfig == nil || str(a.RedirectConfig.Protocol) != "HTTPS" ||
					!strings.HasPrefix(a.RedirectConfig.StatusCode, "HTTP_30") {
					out.addf("%s: HTTP listener does not redirect to HTTPS", id)
				}
			}
		default:
			out.addf("%s: protocol %q", id, str(l.Protocol))
		}
	})
	if https == 0 {
		out.addf("no HTTPS listener")
	}
	return out
}

func checkTargetGroups(p *parsed, healthPath string) problems {
	var out problems
	each(p, func(id string, tg *elasticloadbalancingv2.TargetGroup) {
		if str(tg.HealthCheckPath) != healthPath {
			out.addf("%s: health check path %q, want %q", id, str(tg.HealthCheckPath), healthPath)
		}
		if str(tg.TargetType) != "ip" {
			out.addf("%s: target type %q, want ip (awsvpc tasks)", id, str(tg.TargetType))
		}
		delay := 300 // the ELB default
		for _, a := range tg.TargetGroupAttributes {
			if str(a.Key) == "deregistration_delay.timeout_seconds" {
				delay, _ = strconv.Atoi(str(a.Value))
			}
		}
		if delay > 60 {
			out.addf("%s: deregistration delay %ds slows every deploy", id, delay)
		}
	})
	return out
}

func checkLoadBalancerAttributes(p *parsed) problems {
	var out problems
	each(p, func(id string, lb *elasticloadbalancingv2.LoadBalancer) {
		drop := false
		for _, a := range lb.LoadBalancerAttributes {
			if str(a.Key) == "routing.http.drop_invalid_header_fields.enabled" && str(a.Value) == "true" {
				drop = true
			}
		}
		if !drop {
			out.addf("%s: invalid header fields are not dropped", id)
		}
	})
	return out
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

func checkPrivateSubnets(p *parsed) problems {
	var out problems
	each(p, func(svcID string, s *ecs.Service) {
		if s.NetworkConfiguration == nil || s.NetworkConfiguration.AwsvpcConfiguration == nil {
			return
		}
		azs := map[string]bool{}
		for _, ref := range s.NetworkConfiguration.AwsvpcConfiguration.Subnets {
			id := target(ref)
			sn, ok := p.Resources[id].(*ec2.Subnet)
			if !ok {
				out.addf("%s: subnet %q not declared in the template", svcID, ref)
				continue
			}
			azs[fmt.Sprint(sn.AvailabilityZone)] = true
			if sn.MapPublicIpOnLaunch != nil && *sn.MapPublicIpOnLaunch {
				out.addf("%s: task subnet maps public IPs", id)
			}
			rts := subnetRouteTables(p, id)
			if len(rts) == 0 {
				out.addf("%s: task subnet uses the VPC main route table", id)
			}
			for _, rt := range rts {
				if routesToIGW(p, rt) {
					out.addf("%s: task subnet routes to the internet gateway through %s", id, rt)
				}
			}
		}
		if len(azs) < 2 {
			out.addf("%s: tasks in fewer than two availability zones", svcID)
		}
	})
	each(p, func(lbID string, lb *elasticloadbalancingv2.LoadBalancer) {
		for _, ref := range lb.Subnets {
			ok := false
			for _, rt := range subnetRouteTables(p, target(ref)) {
				ok = ok || routesToIGW(p, rt)
			}
			if !ok {
				out.addf("%s: subnet %s has no internet route", lbID, target(ref))
			}
		}
	})
	return out
}

func checkFlowLogs(p *parsed) problems {
	var out problems
	each(p, func(vpcID string, _ *ec2.VPC) {
		on := false
		each(p, func(id string, f *ec2.FlowLog) {
			if target(f.ResourceId) != vpcID || f.ResourceType != "VPC" {
				return
			}
			on = true
			if str(f.TrafficType) != "ALL" {
				out.addf("%s: flow log records %q traffic, want ALL", id, str(f.TrafficType))
			}
			if _, ok := p.Resources[target(str(f.LogGroupName))].(*logs.LogGroup); !ok && str(f.LogDestinationType) != "s3" {
				out.addf("%s: flow log group not declared in the template (retention unknown)", id)
			}
		})
		if !on {
			out.addf("%s: no VPC flow log", vpcID)
		}
	})
	return out
}

func checkEndpoints(p *parsed) problems {
	var out problems
	have := map[string]string{}
	each(p, func(_ string, e *ec2.VPCEndpoint) {
		svc := e.ServiceName
		if i := strings.LastIndex(svc, "eu-west-1."); i >= 0 {
			svc = svc[i+len("eu-west-1."):]
		}
		have[svc] = str(e.VpcEndpointType)
		if str(e.VpcEndpointType) == "Interface" && (e.PrivateDnsEnabled == nil || !*e.PrivateDnsEnabled) {
			out.addf("%s endpoint without private DNS: tasks would still resolve the public endpoint", svc)
		}
	})
	for svc, typ := range map[string]string{"ecr.api": "Interface", "ecr.dkr": "Interface", "logs": "Interface", "secretsmanager": "Interface", "s3": "Gateway"} {
		if have[svc] != typ {
			out.addf("no %s endpoint for %s", typ, svc)
		}
	}
	return out
}

var requiredTags = []string{"env", "owner", "cost-center"}

func checkTags(p *parsed) problems {
	var out problems
	for _, id := range p.active() {
		v := reflect.ValueOf(p.Resources[id])
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
		for _, k := range requiredTags {
			if got[k] == "" {
				out.addf("%s (%s): missing tag %s", id, p.Resources[id].AWSCloudFormationType(), k)
			}
		}
	}
	return out
}

var githubSub = regexp.MustCompile(`^repo:[A-Za-z0-9-]+/[A-Za-z0-9._-]+:(environment:[A-Za-z0-9_-]+|ref:refs/heads/main)$`)

func checkOIDCTrust(p *parsed) problems {
	var out problems
	n := 0
	each(p, func(id string, r *iam.Role) {
		for i, st := range statements(r.AssumeRolePolicyDocument) {
			if !contains(list(st["Action"]), "sts:AssumeRoleWithWebIdentity") {
				continue
			}
			n++
			where := fmt.Sprintf("%s trust statement %d", id, i)
			cond, _ := st["Condition"].(map[string]any)
			eq, _ := cond["StringEquals"].(map[string]any)
			like, _ := cond["StringLike"].(map[string]any)
			if aud := list(eq["token.actions.githubusercontent.com:aud"]); len(aud) != 1 || aud[0] != "sts.amazonaws.com" {
				out.addf("%s: aud is not limited to sts.amazonaws.com", where)
			}
			subs := append(list(eq["token.actions.githubusercontent.com:sub"]), list(like["token.actions.githubusercontent.com:sub"])...)
			if len(subs) == 0 {
				out.addf("%s: sub is not restricted: any GitHub repository could assume the role", where)
			}
			for _, s := range subs {
				if !githubSub.MatchString(s) {
					out.addf("%s: sub %q is not one repository's environment or main branch", where, s)
				}
			}
		}
	})
	if n == 0 {
		out.addf("no GitHub OIDC deploy role")
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
