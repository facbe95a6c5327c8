// Package live audits a deployed ECS Fargate service against the policy rules: it reads the
// cluster, service, task definition, ECR repository, subnets, route tables, security groups and
// the task and execution roles' IAM policies through Describe/Get/List calls only (never a
// mutating call), and evaluates them with package policy. A read the caller is not allowed to
// make becomes an FG-AUDIT-001 finding naming the missing permission instead of a failure.
package live

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"dagger/fargate/pipeline/findings"
	"dagger/fargate/pipeline/policy"
)

// AuditTarget names what to audit and how to judge it.
type AuditTarget struct {
	Cluster string // name or ARN (required)
	Service string // name or ARN (required)
	// Container picks the container whose image names the ECR repository when Repository is
	// empty; empty means the first container with an ECR image.
	Container string
	// Repository is the ECR repository name; empty derives it from the task definition's image.
	Repository string
	Env        string
	// Production is the environment's production property (the stricter service rules).
	Production   bool
	RequiredTags []string
	// LoadBalancerSecurityGroups, when set, are the only allowed ingress sources of the task
	// security groups (FG-SVC-003); otherwise any security-group source is accepted.
	LoadBalancerSecurityGroups []string
	// ExpectServiceDiscovery makes FG-SVC-008 require a service registry.
	ExpectServiceDiscovery bool
	Suppressions           []policy.Suppression
	// Now decides whether suppressions have expired; zero means time.Now().
	Now time.Time
}

// Audit reads the live resources of a service and evaluates every rule against them. Errors
// are returned for bad targets, missing resources, throttling that outlasts the retryer, and
// other failures; AccessDenied on a read becomes a finding.
func Audit(ctx context.Context, cfg aws.Config, t AuditTarget) (policy.Report, error) {
	if strings.TrimSpace(t.Cluster) == "" {
		return policy.Report{}, fmt.Errorf("audit: cluster is required")
	}
	if strings.TrimSpace(t.Service) == "" {
		return policy.Report{}, fmt.Errorf("audit: service is required")
	}
	sup, err := policy.ParseSuppressions(t.Suppressions)
	if err != nil {
		return policy.Report{}, fmt.Errorf("audit: %w", err)
	}
	a := &auditor{t: t, ecs: ecs.NewFromConfig(cfg), ecr: ecr.NewFromConfig(cfg), ec2: ec2.NewFromConfig(cfg), iam: iam.NewFromConfig(cfg)}
	if err := a.run(ctx); err != nil {
		return policy.Report{}, err
	}
	for i := range a.findings {
		a.findings[i].Source = findings.SourceAudit
	}
	return policy.NewReport(a.findings, sup, t.Now), nil
}

type auditor struct {
	t        AuditTarget
	ecs      *ecs.Client
	ecr      *ecr.Client
	ec2      *ec2.Client
	iam      *iam.Client
	findings []policy.Finding
}

// denied records a read that failed (a missing permission, a service that does not answer,
// throttling that outlasted the retries) as a finding, so that the rest of the audit still
// runs, and reports whether err was one. Only a cancelled run stops the audit.
func (a *auditor) denied(err error, resource, permission string) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	a.findings = append(a.findings, policy.AuditReadFinding(resource, permission, err))
	return true
}

func (a *auditor) run(ctx context.Context) error {
	if err := a.cluster(ctx); err != nil {
		return err
	}
	svc, err := a.service(ctx)
	if err != nil {
		return err
	}
	if svc == nil { // denied: the repository can still be audited when named
		return a.repository(ctx, nil)
	}
	td, err := a.taskDefinition(ctx, aws.ToString(svc.TaskDefinition))
	if err != nil {
		return err
	}
	net, err := a.network(ctx, svc)
	if err != nil {
		return err
	}
	a.findings = append(a.findings, policy.ServiceFindings(*svc, net, policy.ServiceOptions{Env: a.t.Env, Production: a.t.Production, RequiredTags: a.t.RequiredTags, ExpectServiceDiscovery: a.t.ExpectServiceDiscovery})...)
	if td != nil {
		secrets := policy.SecretARNs(td)
		if arn := aws.ToString(td.ExecutionRoleArn); arn != "" {
			if err := a.role(ctx, arn, policy.RoleExecution, secrets); err != nil {
				return err
			}
		}
		if arn := aws.ToString(td.TaskRoleArn); arn != "" && arn != aws.ToString(td.ExecutionRoleArn) {
			if err := a.role(ctx, arn, policy.RoleTask, nil); err != nil {
				return err
			}
		}
	}
	return a.repository(ctx, td)
}

func (a *auditor) cluster(ctx context.Context) error {
	res := "cluster/" + lastSegment(a.t.Cluster)
	out, err := a.ecs.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{a.t.Cluster},
		Include: []ecstypes.ClusterField{ecstypes.ClusterFieldSettings, ecstypes.ClusterFieldTags}})
	if err != nil {
		if a.denied(err, res, "ecs:DescribeClusters") {
			return nil
		}
		return fmt.Errorf("audit: describe cluster %q: %w", a.t.Cluster, err)
	}
	if len(out.Clusters) == 0 || aws.ToString(out.Clusters[0].Status) == "INACTIVE" {
		return fmt.Errorf("audit: cluster %q not found", a.t.Cluster)
	}
	a.findings = append(a.findings, policy.ClusterFindings(out.Clusters[0], a.t.RequiredTags)...)
	return nil
}

func (a *auditor) service(ctx context.Context) (*ecstypes.Service, error) {
	res := "service/" + lastSegment(a.t.Cluster) + "/" + lastSegment(a.t.Service)
	out, err := a.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(a.t.Cluster), Services: []string{a.t.Service},
		Include: []ecstypes.ServiceField{ecstypes.ServiceFieldTags}})
	if err != nil {
		if a.denied(err, res, "ecs:DescribeServices") {
			return nil, nil
		}
		return nil, fmt.Errorf("audit: describe service %q in cluster %q: %w", a.t.Service, a.t.Cluster, err)
	}
	if len(out.Services) == 0 || aws.ToString(out.Services[0].Status) == "INACTIVE" {
		return nil, fmt.Errorf("audit: service %q not found in cluster %q", a.t.Service, a.t.Cluster)
	}
	svc := out.Services[0]
	return &svc, nil
}

func (a *auditor) taskDefinition(ctx context.Context, ref string) (*ecstypes.TaskDefinition, error) {
	if ref == "" {
		return nil, fmt.Errorf("audit: service %q has no task definition", a.t.Service)
	}
	out, err := a.ecs.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(ref),
		Include: []ecstypes.TaskDefinitionField{ecstypes.TaskDefinitionFieldTags}})
	if err != nil {
		if a.denied(err, "task-definition/"+lastSegment(ref), "ecs:DescribeTaskDefinition") {
			return nil, nil
		}
		return nil, fmt.Errorf("audit: describe task definition %q: %w", ref, err)
	}
	if out.TaskDefinition == nil {
		return nil, fmt.Errorf("audit: task definition %q not found", ref)
	}
	a.findings = append(a.findings, policy.TaskDefinitionFindings(out.TaskDefinition, out.Tags, a.t.RequiredTags,
		policy.Location{Logical: aws.ToString(out.TaskDefinition.TaskDefinitionArn)})...)
	return out.TaskDefinition, nil
}

// network reads the service's subnets, their effective route tables and its security groups.
// It returns nil facts when the service has no awsvpc configuration or a read was denied.
func (a *auditor) network(ctx context.Context, svc *ecstypes.Service) (*policy.NetworkFacts, error) {
	if svc.NetworkConfiguration == nil || svc.NetworkConfiguration.AwsvpcConfiguration == nil {
		return nil, nil
	}
	vpcCfg := svc.NetworkConfiguration.AwsvpcConfiguration
	res := "service/" + lastSegment(a.t.Cluster) + "/" + lastSegment(aws.ToString(svc.ServiceName))
	facts := &policy.NetworkFacts{LoadBalancerSecurityGroups: a.t.LoadBalancerSecurityGroups}
	complete := true

	if len(vpcCfg.Subnets) > 0 {
		subnets, err := a.subnets(ctx, vpcCfg.Subnets, res)
		if err != nil {
			return nil, err
		}
		if subnets == nil {
			complete = false
		}
		facts.Subnets = subnets
	}
	if len(vpcCfg.SecurityGroups) > 0 {
		out, err := a.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: vpcCfg.SecurityGroups})
		switch {
		case err != nil && a.denied(err, res, "ec2:DescribeSecurityGroups"):
			complete = false
		case err != nil:
			return nil, fmt.Errorf("audit: describe security groups %v: %w", vpcCfg.SecurityGroups, err)
		default:
			for _, sg := range out.SecurityGroups {
				facts.SecurityGroups = append(facts.SecurityGroups, securityGroupFacts(sg))
			}
		}
	}
	if !complete && facts.Subnets == nil && facts.SecurityGroups == nil {
		return nil, nil
	}
	return facts, nil
}

func (a *auditor) subnets(ctx context.Context, ids []string, res string) ([]policy.SubnetFacts, error) {
	out, err := a.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: ids})
	if err != nil {
		if a.denied(err, res, "ec2:DescribeSubnets") {
			return nil, nil
		}
		return nil, fmt.Errorf("audit: describe subnets %v: %w", ids, err)
	}
	vpcOf := map[string]string{}
	for _, s := range out.Subnets {
		vpcOf[aws.ToString(s.SubnetId)] = aws.ToString(s.VpcId)
	}
	tables, err := a.routeTables(ctx, []ec2types.Filter{{Name: aws.String("association.subnet-id"), Values: ids}}, res)
	if err != nil || tables == nil {
		return nil, err
	}
	explicit := map[string]ec2types.RouteTable{}
	for _, rt := range tables {
		for _, as := range rt.Associations {
			if s := aws.ToString(as.SubnetId); s != "" {
				explicit[s] = rt
			}
		}
	}
	mainOf := map[string]ec2types.RouteTable{} // by VPC
	var facts []policy.SubnetFacts
	for _, id := range ids {
		rt, ok := explicit[id]
		if !ok {
			vpc := vpcOf[id]
			if vpc == "" {
				return nil, fmt.Errorf("audit: subnet %s not found", id)
			}
			if _, seen := mainOf[vpc]; !seen {
				mains, err := a.routeTables(ctx, []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpc}}, {Name: aws.String("association.main"), Values: []string{"true"}}}, res)
				if err != nil || mains == nil {
					return nil, err
				}
				if len(mains) == 0 {
					return nil, fmt.Errorf("audit: VPC %s has no main route table", vpc)
				}
				mainOf[vpc] = mains[0]
			}
			rt = mainOf[vpc]
		}
		facts = append(facts, policy.SubnetFacts{ID: id, RouteTableID: aws.ToString(rt.RouteTableId), InternetRoute: internetRoute(rt)})
	}
	return facts, nil
}

func (a *auditor) routeTables(ctx context.Context, filters []ec2types.Filter, res string) ([]ec2types.RouteTable, error) {
	var out []ec2types.RouteTable
	p := ec2.NewDescribeRouteTablesPaginator(a.ec2, &ec2.DescribeRouteTablesInput{Filters: filters})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			if a.denied(err, res, "ec2:DescribeRouteTables") {
				return nil, nil
			}
			return nil, fmt.Errorf("audit: describe route tables: %w", err)
		}
		out = append(out, page.RouteTables...)
	}
	if out == nil {
		out = []ec2types.RouteTable{}
	}
	return out, nil
}

// internetRoute returns the internet gateway a default route (0.0.0.0/0 or ::/0) targets, or "".
func internetRoute(rt ec2types.RouteTable) string {
	for _, r := range rt.Routes {
		dest := aws.ToString(r.DestinationCidrBlock)
		if dest == "" {
			dest = aws.ToString(r.DestinationIpv6CidrBlock)
		}
		if dest != "0.0.0.0/0" && dest != "::/0" {
			continue
		}
		if gw := aws.ToString(r.GatewayId); strings.HasPrefix(gw, "igw-") {
			return gw
		}
	}
	return ""
}

func securityGroupFacts(sg ec2types.SecurityGroup) policy.SecurityGroupFacts {
	f := policy.SecurityGroupFacts{ID: aws.ToString(sg.GroupId)}
	for _, p := range sg.IpPermissions {
		in := policy.IngressFacts{Protocol: aws.ToString(p.IpProtocol), FromPort: aws.ToInt32(p.FromPort), ToPort: aws.ToInt32(p.ToPort)}
		for _, r := range p.IpRanges {
			in.CIDRs = append(in.CIDRs, aws.ToString(r.CidrIp))
		}
		for _, r := range p.Ipv6Ranges {
			in.CIDRs = append(in.CIDRs, aws.ToString(r.CidrIpv6))
		}
		for _, pl := range p.PrefixListIds {
			in.PrefixLists = append(in.PrefixLists, aws.ToString(pl.PrefixListId))
		}
		for _, g := range p.UserIdGroupPairs {
			in.SourceGroups = append(in.SourceGroups, aws.ToString(g.GroupId))
		}
		f.Ingress = append(f.Ingress, in)
	}
	return f
}

// role evaluates every inline and attached managed policy of a role.
func (a *auditor) role(ctx context.Context, arn string, kind policy.RoleKind, secrets []string) error {
	name := lastSegment(arn)
	res := "iam/role/" + name
	if _, err := a.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)}); err != nil {
		if a.denied(err, res, "iam:GetRole") {
			return nil
		}
		return fmt.Errorf("audit: get %s role %q: %w", kindName(kind), name, err)
	}
	inline := iam.NewListRolePoliciesPaginator(a.iam, &iam.ListRolePoliciesInput{RoleName: aws.String(name)})
	for inline.HasMorePages() {
		page, err := inline.NextPage(ctx)
		if err != nil {
			if a.denied(err, res, "iam:ListRolePolicies") {
				break
			}
			return fmt.Errorf("audit: list inline policies of role %q: %w", name, err)
		}
		for _, pn := range page.PolicyNames {
			out, err := a.iam.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(pn)})
			if err != nil {
				if a.denied(err, res+"/inline/"+pn, "iam:GetRolePolicy") {
					continue
				}
				return fmt.Errorf("audit: get inline policy %q of role %q: %w", pn, name, err)
			}
			if err := a.evalPolicy(aws.ToString(out.PolicyDocument), kind, res+"/inline/"+pn, arn, secrets); err != nil {
				return err
			}
		}
	}
	attached := iam.NewListAttachedRolePoliciesPaginator(a.iam, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(name)})
	for attached.HasMorePages() {
		page, err := attached.NextPage(ctx)
		if err != nil {
			if a.denied(err, res, "iam:ListAttachedRolePolicies") {
				break
			}
			return fmt.Errorf("audit: list attached policies of role %q: %w", name, err)
		}
		for _, ap := range page.AttachedPolicies {
			pres := res + "/managed/" + aws.ToString(ap.PolicyName)
			pol, err := a.iam.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: ap.PolicyArn})
			if err != nil {
				if a.denied(err, pres, "iam:GetPolicy") {
					continue
				}
				return fmt.Errorf("audit: get managed policy %q: %w", aws.ToString(ap.PolicyArn), err)
			}
			ver, err := a.iam.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: ap.PolicyArn, VersionId: pol.Policy.DefaultVersionId})
			if err != nil {
				if a.denied(err, pres, "iam:GetPolicyVersion") {
					continue
				}
				return fmt.Errorf("audit: get managed policy %q version %q: %w", aws.ToString(ap.PolicyArn), aws.ToString(pol.Policy.DefaultVersionId), err)
			}
			if ver.PolicyVersion == nil {
				return fmt.Errorf("audit: managed policy %q version %q has no document", aws.ToString(ap.PolicyArn), aws.ToString(pol.Policy.DefaultVersionId))
			}
			if err := a.evalPolicy(aws.ToString(ver.PolicyVersion.Document), kind, pres, aws.ToString(ap.PolicyArn), secrets); err != nil {
				return err
			}
		}
	}
	return nil
}

// evalPolicy decodes an IAM policy document (IAM returns them URL-encoded) and evaluates it.
func (a *auditor) evalPolicy(encoded string, kind policy.RoleKind, resource, logical string, secrets []string) error {
	doc, err := url.QueryUnescape(encoded)
	if err != nil {
		return fmt.Errorf("audit: decode policy document of %s: %w", resource, err)
	}
	parsed, err := policy.ParsePolicyDocument([]byte(doc))
	if err != nil {
		return fmt.Errorf("audit: %s: %w", resource, err)
	}
	a.findings = append(a.findings, policy.PolicyFindings(parsed, kind, resource, secrets, policy.Location{Logical: logical})...)
	return nil
}

func kindName(k policy.RoleKind) string {
	if k == policy.RoleOther {
		return "IAM"
	}
	return string(k)
}

// repository evaluates the ECR repository named by the target or by the task's image.
func (a *auditor) repository(ctx context.Context, td *ecstypes.TaskDefinition) error {
	name := a.t.Repository
	if name == "" && td != nil {
		name = repositoryFromImages(td, a.t.Container)
	}
	if name == "" {
		return nil // image not in ECR, or unknown: no repository to audit
	}
	res := "ecr/" + name
	out, err := a.ecr.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{name}})
	if err != nil {
		if a.denied(err, res, "ecr:DescribeRepositories") {
			return nil
		}
		return fmt.Errorf("audit: describe ECR repository %q: %w", name, err)
	}
	if len(out.Repositories) == 0 {
		return fmt.Errorf("audit: ECR repository %q not found", name)
	}
	facts := policy.RepositoryFacts{Repository: out.Repositories[0]}
	_, err = a.ecr.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String(name)})
	var notFound *ecrtypes.LifecyclePolicyNotFoundException
	switch {
	case err == nil:
		facts.HasLifecyclePolicy = true
	case errors.As(err, &notFound):
	case a.denied(err, res, "ecr:GetLifecyclePolicy"):
		facts.HasLifecyclePolicy = true // unknown: do not report a missing policy we could not read
	default:
		return fmt.Errorf("audit: get lifecycle policy of ECR repository %q: %w", name, err)
	}
	scan, err := a.ecr.GetRegistryScanningConfiguration(ctx, &ecr.GetRegistryScanningConfigurationInput{})
	switch {
	case err == nil:
		facts.RegistryScanning = scan.ScanningConfiguration
	case a.denied(err, res, "ecr:GetRegistryScanningConfiguration"):
	default:
		return fmt.Errorf("audit: get registry scanning configuration: %w", err)
	}
	a.findings = append(a.findings, policy.RepositoryFindings(facts)...)
	return nil
}

// repositoryFromImages returns the ECR repository of the chosen container's image
// (ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME[:tag|@digest]), or "".
func repositoryFromImages(td *ecstypes.TaskDefinition, container string) string {
	for _, c := range td.ContainerDefinitions {
		if container != "" && aws.ToString(c.Name) != container {
			continue
		}
		img := aws.ToString(c.Image)
		host, rest, ok := strings.Cut(img, "/")
		if !ok || !strings.Contains(host, ".dkr.ecr.") {
			continue
		}
		if i := strings.Index(rest, "@"); i >= 0 {
			rest = rest[:i]
		}
		if i := strings.LastIndex(rest, ":"); i >= 0 {
			rest = rest[:i]
		}
		return rest
	}
	return ""
}

func lastSegment(s string) string {
	if i := strings.LastIndex(s, "/"); i >= 0 {
		return s[i+1:]
	}
	return s
}
