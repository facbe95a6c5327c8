package policy

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// NetworkFacts are what the service rules need to know about the VPC around a service.
type NetworkFacts struct {
	// Subnets are the service's subnets with their effective route table (the explicitly
	// associated one, or the VPC's main route table).
	Subnets []SubnetFacts
	// SecurityGroups are the service's (task) security groups.
	SecurityGroups []SecurityGroupFacts
	// LoadBalancerSecurityGroups, when known, are the only security groups allowed as
	// ingress sources; when empty, any security-group source is accepted and only CIDR and
	// prefix-list sources are rejected.
	LoadBalancerSecurityGroups []string
}

// SubnetFacts describes one subnet's routing.
type SubnetFacts struct {
	ID           string
	RouteTableID string
	// InternetRoute is the igw- target of a 0.0.0.0/0 (or ::/0) route, or "" if none.
	InternetRoute string
}

// SecurityGroupFacts describes one security group's ingress.
type SecurityGroupFacts struct {
	ID      string
	Ingress []IngressFacts
}

// IngressFacts is one ingress permission.
type IngressFacts struct {
	Protocol         string // "tcp", "-1" for all
	FromPort, ToPort int32
	CIDRs            []string // IPv4 and IPv6 ranges
	PrefixLists      []string
	SourceGroups     []string
}

// ServiceFacts are the service settings known before the deploy (from the environments file).
// A nil field is unknown and its rule is not evaluated.
type ServiceFacts struct {
	Name                 string
	AssignPublicIP       *bool
	CircuitBreaker       *bool
	Rollback             *bool
	PlatformVersion      *string
	EnableExecuteCommand *bool
	LoadBalanced         *bool // a target group is attached
	ServiceDiscovery     *bool // a service registry is attached
	PropagateTags        *string
	Tags                 map[string]string // nil: unknown
	Network              *NetworkFacts
	// Delivery is the deployment strategy and its guards (nil: unknown).
	Delivery *DeliveryFacts
}

// DeliveryFacts are a service's deployment strategy, its alarms and its blue/green wiring.
type DeliveryFacts struct {
	// Strategy is ROLLING, BLUE_GREEN, CANARY or LINEAR ("" is ROLLING).
	Strategy string
	// Alarms are the CloudWatch alarms that fail a deployment (empty: none);
	// AlarmRollback says whether a firing alarm rolls it back.
	Alarms        []string
	AlarmRollback bool
	// TestListener says whether the load balancer has a test listener rule.
	TestListener bool
}

// serviceView is a service under evaluation; nil pointers are unknown facts.
type serviceView struct {
	resource        string
	env             string
	production      bool
	assignPublicIP  *bool
	circuitBreaker  *bool
	rollback        *bool
	platformVersion *string
	execEnabled     *bool
	loadBalancers   *[]ecstypes.LoadBalancer
	expectDiscovery bool
	registries      *[]ecstypes.ServiceRegistry
	propagateTags   *string
	tags            *[]ecstypes.Tag
	requiredTags    []string
	network         *NetworkFacts
	fargate         bool
	delivery        *DeliveryFacts
}

// ServiceOptions are the evaluation settings for a live service.
type ServiceOptions struct {
	Env string
	// Production says the environment is production (its production property in the
	// environments file): ECS Exec and rolling updates without alarms fail.
	Production             bool
	RequiredTags           []string
	ExpectServiceDiscovery bool
}

func viewFromService(svc ecstypes.Service, net *NetworkFacts, opts ServiceOptions) *serviceView {
	v := &serviceView{resource: serviceResource(aws.ToString(svc.ClusterArn), aws.ToString(svc.ServiceName)), env: opts.Env, production: opts.Production, network: net,
		requiredTags: opts.RequiredTags, expectDiscovery: opts.ExpectServiceDiscovery}
	pub := false
	if svc.NetworkConfiguration != nil && svc.NetworkConfiguration.AwsvpcConfiguration != nil {
		pub = svc.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp == ecstypes.AssignPublicIpEnabled
	}
	for _, ts := range svc.TaskSets {
		if ts.NetworkConfiguration != nil && ts.NetworkConfiguration.AwsvpcConfiguration != nil &&
			ts.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp == ecstypes.AssignPublicIpEnabled {
			pub = true
		}
	}
	v.assignPublicIP = &pub
	cb, rb := false, false
	if svc.DeploymentConfiguration != nil && svc.DeploymentConfiguration.DeploymentCircuitBreaker != nil {
		cb = svc.DeploymentConfiguration.DeploymentCircuitBreaker.Enable
		rb = svc.DeploymentConfiguration.DeploymentCircuitBreaker.Rollback
	}
	// The circuit breaker, strategies and deployment alarms exist only for the ECS
	// deployment controller.
	if svc.DeploymentController == nil || svc.DeploymentController.Type == ecstypes.DeploymentControllerTypeEcs {
		v.circuitBreaker, v.rollback = &cb, &rb
		v.delivery = deliveryFromService(svc)
	}
	v.fargate = svc.LaunchType == ecstypes.LaunchTypeFargate || usesFargateCapacity(svc.CapacityProviderStrategy)
	if v.fargate {
		pv := aws.ToString(svc.PlatformVersion)
		v.platformVersion = &pv
	}
	exec := svc.EnableExecuteCommand
	v.execEnabled = &exec
	lbs := svc.LoadBalancers
	v.loadBalancers = &lbs
	regs := svc.ServiceRegistries
	v.registries = &regs
	pt := string(svc.PropagateTags)
	v.propagateTags = &pt
	tags := svc.Tags
	v.tags = &tags
	return v
}

func usesFargateCapacity(s []ecstypes.CapacityProviderStrategyItem) bool {
	for _, i := range s {
		if p := aws.ToString(i.CapacityProvider); p == "FARGATE" || p == "FARGATE_SPOT" {
			return true
		}
	}
	return false
}

func viewFromFacts(f ServiceFacts, env string, production bool, required []string) *serviceView {
	v := &serviceView{resource: serviceResource("", f.Name), env: env, production: production, assignPublicIP: f.AssignPublicIP, circuitBreaker: f.CircuitBreaker,
		rollback: f.Rollback, platformVersion: f.PlatformVersion, execEnabled: f.EnableExecuteCommand, propagateTags: f.PropagateTags,
		network: f.Network, requiredTags: required, fargate: true}
	if f.CircuitBreaker != nil && f.Rollback == nil {
		// The environments file's circuitBreaker switch means "with rollback" (the deploy engine sets both).
		v.rollback = f.CircuitBreaker
	}
	if f.LoadBalanced != nil {
		var lbs []ecstypes.LoadBalancer
		if *f.LoadBalanced {
			lbs = []ecstypes.LoadBalancer{{TargetGroupArn: aws.String("(from environments file)")}}
		}
		v.loadBalancers = &lbs
	}
	if f.ServiceDiscovery != nil {
		v.expectDiscovery = *f.ServiceDiscovery
	}
	v.delivery = f.Delivery
	if f.Tags != nil {
		tags := make([]ecstypes.Tag, 0, len(f.Tags))
		for k, val := range f.Tags {
			tags = append(tags, ecstypes.Tag{Key: aws.String(k), Value: aws.String(val)})
		}
		v.tags = &tags
	}
	return v
}

func serviceResource(clusterArn, name string) string {
	cluster := clusterArn
	if i := strings.LastIndex(cluster, "/"); i >= 0 {
		cluster = cluster[i+1:]
	}
	if cluster == "" {
		return "service/" + name
	}
	return "service/" + cluster + "/" + name
}

func checkPublicIP(v *serviceView) []hit {
	if v.assignPublicIP != nil && *v.assignPublicIP {
		return []hit{{message: "assignPublicIp is ENABLED"}}
	}
	return nil
}

func checkPrivateSubnets(v *serviceView) []hit {
	if v.network == nil {
		return nil
	}
	var out []hit
	for _, s := range v.network.Subnets {
		if s.InternetRoute != "" {
			out = append(out, hit{message: fmt.Sprintf("subnet %s is public: route table %s sends 0.0.0.0/0 to %s", s.ID, s.RouteTableID, s.InternetRoute)})
		}
	}
	return out
}

func checkSecurityGroups(v *serviceView) []hit {
	if v.network == nil {
		return nil
	}
	lb := map[string]bool{}
	for _, id := range v.network.LoadBalancerSecurityGroups {
		lb[id] = true
	}
	var out []hit
	for _, sg := range v.network.SecurityGroups {
		for _, in := range sg.Ingress {
			ports := portRange(in)
			for _, c := range in.CIDRs {
				out = append(out, hit{message: fmt.Sprintf("security group %s admits %s on %s", sg.ID, c, ports)})
			}
			for _, p := range in.PrefixLists {
				out = append(out, hit{message: fmt.Sprintf("security group %s admits prefix list %s on %s", sg.ID, p, ports)})
			}
			if len(lb) > 0 {
				for _, g := range in.SourceGroups {
					if !lb[g] && g != sg.ID {
						out = append(out, hit{message: fmt.Sprintf("security group %s admits security group %s, not the load balancer's, on %s", sg.ID, g, ports)})
					}
				}
			}
		}
	}
	return out
}

func portRange(in IngressFacts) string {
	if in.Protocol == "-1" || in.Protocol == "" {
		return "all ports"
	}
	if in.FromPort == in.ToPort {
		return fmt.Sprintf("%s/%d", in.Protocol, in.FromPort)
	}
	return fmt.Sprintf("%s/%d-%d", in.Protocol, in.FromPort, in.ToPort)
}

func checkCircuitBreaker(v *serviceView) []hit {
	if v.circuitBreaker == nil {
		return nil
	}
	if !*v.circuitBreaker {
		return []hit{{message: "deployment circuit breaker is disabled"}}
	}
	if v.rollback != nil && !*v.rollback {
		return []hit{{message: "deployment circuit breaker is on but rollback is disabled"}}
	}
	return nil
}

func checkPlatformVersion(v *serviceView) []hit {
	if v.platformVersion == nil {
		return nil
	}
	switch pv := *v.platformVersion; pv {
	case "", "LATEST", "1.4.0":
		return nil // empty means LATEST
	default:
		return []hit{{message: fmt.Sprintf("platformVersion is %s", pv)}}
	}
}

func checkExecInProd(v *serviceView) []hit {
	if v.execEnabled != nil && *v.execEnabled && v.production {
		return []hit{{message: fmt.Sprintf("enableExecuteCommand is true in production environment %q", v.env)}}
	}
	return nil
}

func checkLoadBalancer(v *serviceView) []hit {
	if v.loadBalancers == nil {
		return nil
	}
	for _, lb := range *v.loadBalancers {
		if aws.ToString(lb.TargetGroupArn) != "" {
			return nil
		}
	}
	if len(*v.loadBalancers) > 0 {
		return []hit{{message: "load balancer is a Classic Load Balancer or has no target group"}}
	}
	return []hit{{message: "service has no load balancer target group"}}
}

func checkServiceDiscovery(v *serviceView) []hit {
	var out []hit
	if v.registries != nil {
		for i, r := range *v.registries {
			if aws.ToString(r.RegistryArn) == "" {
				out = append(out, hit{message: fmt.Sprintf("serviceRegistries[%d] has no registryArn", i)})
			}
		}
		if v.expectDiscovery && len(*v.registries) == 0 {
			out = append(out, hit{message: "service discovery is configured but the service has no service registry"})
		}
	}
	return out
}

func checkPropagateTags(v *serviceView) []hit {
	if v.propagateTags == nil {
		return nil
	}
	switch *v.propagateTags {
	case string(ecstypes.PropagateTagsService), string(ecstypes.PropagateTagsTaskDefinition):
		return nil
	}
	return []hit{{message: fmt.Sprintf("propagateTags is %q", orNone(*v.propagateTags))}}
}

func orNone(s string) string {
	if s == "" {
		return "NONE"
	}
	return s
}

func checkServiceTags(v *serviceView) []hit {
	if v.tags == nil {
		return nil
	}
	return missingTags(v.requiredTags, *v.tags, "service")
}

// clusterView is a cluster under evaluation.
type clusterView struct {
	cluster      ecstypes.Cluster
	resource     string
	requiredTags []string
}

func checkContainerInsights(v *clusterView) []hit {
	for _, s := range v.cluster.Settings {
		if s.Name == ecstypes.ClusterSettingNameContainerInsights {
			switch strings.ToLower(aws.ToString(s.Value)) {
			case "enabled", "enhanced":
				return nil
			}
			return []hit{{message: fmt.Sprintf("containerInsights is %q", aws.ToString(s.Value))}}
		}
	}
	return []hit{{message: "containerInsights is not set"}}
}

func checkClusterTags(v *clusterView) []hit {
	return missingTags(v.requiredTags, v.cluster.Tags, "cluster")
}

// RepositoryFacts is an ECR repository with the facts that live beside it.
type RepositoryFacts struct {
	Repository         ecrtypes.Repository
	HasLifecyclePolicy bool
	// RegistryScanning is the registry's scanning configuration (nil: unknown or basic
	// without rules).
	RegistryScanning *ecrtypes.RegistryScanningConfiguration
}

// repoView is a repository under evaluation.
type repoView struct {
	facts    RepositoryFacts
	resource string
}

func checkScanning(v *repoView) []hit {
	r := v.facts.Repository
	if r.ImageScanningConfiguration != nil && r.ImageScanningConfiguration.ScanOnPush {
		return nil
	}
	if rs := v.facts.RegistryScanning; rs != nil {
		for _, rule := range rs.Rules {
			if rule.ScanFrequency != ecrtypes.ScanFrequencyScanOnPush && rule.ScanFrequency != ecrtypes.ScanFrequencyContinuousScan {
				continue
			}
			for _, f := range rule.RepositoryFilters {
				if wildcardMatch(aws.ToString(f.Filter), aws.ToString(r.RepositoryName)) {
					return nil
				}
			}
		}
	}
	return []hit{{message: "neither scan on push nor a registry scanning rule (scan on push or continuous) covers the repository"}}
}

func checkImmutable(v *repoView) []hit {
	if v.facts.Repository.ImageTagMutability == ecrtypes.ImageTagMutabilityImmutable {
		return nil
	}
	return []hit{{message: fmt.Sprintf("imageTagMutability is %s", orNone(string(v.facts.Repository.ImageTagMutability)))}}
}

func checkLifecycle(v *repoView) []hit {
	if v.facts.HasLifecyclePolicy {
		return nil
	}
	return []hit{{message: "repository has no lifecycle policy"}}
}

func checkKMS(v *repoView) []hit {
	ec := v.facts.Repository.EncryptionConfiguration
	if ec != nil && (ec.EncryptionType == ecrtypes.EncryptionTypeKms || ec.EncryptionType == ecrtypes.EncryptionTypeKmsDsse) {
		key := aws.ToString(ec.KmsKey)
		if key != "" && !strings.HasSuffix(key, "alias/aws/ecr") {
			return nil
		}
		return []hit{{message: "repository uses the AWS-managed KMS key"}}
	}
	return []hit{{message: "repository uses AES256 (AWS-managed) encryption"}}
}

// deliveryFromService reads a live service's strategy, alarms and test listener.
func deliveryFromService(svc ecstypes.Service) *DeliveryFacts {
	d := &DeliveryFacts{}
	if c := svc.DeploymentConfiguration; c != nil {
		d.Strategy = string(c.Strategy)
		if a := c.Alarms; a != nil && a.Enable {
			d.Alarms, d.AlarmRollback = a.AlarmNames, a.Rollback
		}
	}
	for _, lb := range svc.LoadBalancers {
		if a := lb.AdvancedConfiguration; a != nil && aws.ToString(a.TestListenerRule) != "" {
			d.TestListener = true
		}
	}
	return d
}

func strategyOf(d *DeliveryFacts) string {
	if d.Strategy == "" {
		return string(ecstypes.DeploymentStrategyRolling)
	}
	return strings.ToUpper(d.Strategy)
}

func checkProdAlarms(v *serviceView) []hit {
	d := v.delivery
	if d == nil || !v.production || strategyOf(d) != string(ecstypes.DeploymentStrategyRolling) || len(d.Alarms) > 0 {
		return nil
	}
	return []hit{{message: fmt.Sprintf("production environment %q deploys with a rolling update and no CloudWatch alarms", v.env)}}
}

func checkAlarmRollback(v *serviceView) []hit {
	d := v.delivery
	if d == nil || len(d.Alarms) == 0 || d.AlarmRollback {
		return nil
	}
	return []hit{{message: fmt.Sprintf("deployment alarms %s are on but rollback is false", strings.Join(d.Alarms, ", "))}}
}

func checkTestListener(v *serviceView) []hit {
	d := v.delivery
	if d == nil || strategyOf(d) != string(ecstypes.DeploymentStrategyBlueGreen) || d.TestListener {
		return nil
	}
	return []hit{{message: "blue/green deployment without a test listener rule: the green revision takes production traffic untested"}}
}
