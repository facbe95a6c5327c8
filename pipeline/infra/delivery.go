package infra

// Progressive delivery in the landing zone: the ECS service's deployment strategy and
// CloudWatch alarms (FG-CFN-032) and, for blue/green, canary and linear strategies, the load
// balancer's advanced configuration (FG-CFN-033). goformation v7's ECS types predate the
// strategy and advancedConfiguration properties, and it rejects unknown fields, so these
// properties are read from the resolved template and removed before the typed parse.

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/awslabs/goformation/v7/cloudformation/ecs"
	"github.com/awslabs/goformation/v7/intrinsics"
	"go.yaml.in/yaml/v3"
)

// newerDeploymentProps are the DeploymentConfiguration properties goformation v7 lacks.
var newerDeploymentProps = []string{"Strategy", "BakeTimeInMinutes", "CanaryConfiguration", "LinearConfiguration", "LifecycleHooks"}

// serviceDeliveryProps are an ECS service's delivery settings, resolved.
type serviceDeliveryProps struct {
	Strategy string
	// Advanced is each load balancer entry's advancedConfiguration (nil when absent).
	Advanced []map[string]any
}

// serviceDelivery resolves the template (same handlers as the typed parse) and reads each
// ECS service's strategy and load balancers' advanced configuration.
func serviceDelivery(body []byte, opts *intrinsics.ProcessorOptions) (map[string]serviceDeliveryProps, error) {
	raw, err := intrinsics.ProcessYAML(body, opts)
	if err != nil {
		return nil, fmt.Errorf("process template: %w", err)
	}
	var top struct {
		Resources map[string]struct {
			Type       string
			Properties struct {
				DeploymentConfiguration struct{ Strategy any }
				LoadBalancers           []struct{ AdvancedConfiguration map[string]any }
			}
		}
	}
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, fmt.Errorf("process template: %w", err)
	}
	out := map[string]serviceDeliveryProps{}
	for id, r := range top.Resources {
		if r.Type != "AWS::ECS::Service" {
			continue
		}
		d := serviceDeliveryProps{}
		if s, ok := r.Properties.DeploymentConfiguration.Strategy.(string); ok {
			d.Strategy = s
		}
		for _, lb := range r.Properties.LoadBalancers {
			d.Advanced = append(d.Advanced, lb.AdvancedConfiguration)
		}
		out[id] = d
	}
	return out, nil
}

// stripNewerServiceProperties removes, from every AWS::ECS::Service, the properties
// goformation's types do not know, so that its strict parse accepts the template.
func stripNewerServiceProperties(body []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	if len(doc.Content) == 0 {
		return body, nil
	}
	resources := child(doc.Content[0], "Resources")
	if resources == nil || resources.Kind != yaml.MappingNode {
		return body, nil
	}
	changed := false
	for i := 1; i < len(resources.Content); i += 2 {
		r := resources.Content[i]
		if t := child(r, "Type"); t == nil || t.Value != "AWS::ECS::Service" {
			continue
		}
		props := child(r, "Properties")
		if dc := child(props, "DeploymentConfiguration"); dc != nil {
			changed = drop(dc, newerDeploymentProps...) || changed
		}
		if lbs := child(props, "LoadBalancers"); lbs != nil && lbs.Kind == yaml.SequenceNode {
			for _, lb := range lbs.Content {
				changed = drop(lb, "AdvancedConfiguration") || changed
			}
		}
	}
	if !changed {
		return body, nil
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	return out, nil
}

// child is the value of key in a mapping node (nil when absent or not a mapping).
func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// drop removes keys from a mapping node and reports whether it removed any.
func drop(n *yaml.Node, keys ...string) bool {
	if n == nil || n.Kind != yaml.MappingNode {
		return false
	}
	removed := false
	for i := 0; i+1 < len(n.Content); {
		if slices.Contains(keys, n.Content[i].Value) {
			n.Content = append(n.Content[:i], n.Content[i+2:]...)
			removed = true
			continue
		}
		i += 2
	}
	return removed
}

// checkDeploymentAlarms: production services fail (and roll back) a deployment on CloudWatch
// alarms declared in the template.
func checkDeploymentAlarms(c *checker) {
	if !c.prod {
		return
	}
	each(c.p, func(id string, s *ecs.Service) {
		dc := s.DeploymentConfiguration
		if dc == nil || dc.Alarms == nil || !dc.Alarms.Enable || len(dc.Alarms.AlarmNames) == 0 {
			c.add(RuleTemplateAlarms, id, "%s: no deployment alarms in prod (a release that starts fine but fails requests reaches all traffic)", id)
			return
		}
		if !dc.Alarms.Rollback {
			c.add(RuleTemplateAlarms, id, "%s: deployment alarms without rollback", id)
		}
		for _, name := range dc.Alarms.AlarmNames {
			if tgt := target(name); tgt != "" {
				if _, ok := c.p.Resources[tgt]; !ok {
					c.add(RuleTemplateAlarms, id, "%s: deployment alarm %s is not declared in the template", id, tgt)
				}
			}
		}
	})
}

// checkBlueGreenWiring: a service on a traffic-shifting strategy has, on a load balancer,
// an alternate target group, a production listener rule and a role, all from the template,
// and (blue/green) a test listener rule.
func checkBlueGreenWiring(c *checker) {
	each(c.p, func(id string, _ *ecs.Service) {
		d := c.p.delivery[id]
		switch d.Strategy {
		case "", "ROLLING":
			return
		}
		var adv map[string]any
		for _, a := range d.Advanced {
			if a != nil {
				adv = a
			}
		}
		if adv == nil {
			c.add(RuleTemplateBlueGreen, id, "%s: strategy %s without a load balancer advancedConfiguration", id, d.Strategy)
			return
		}
		for _, f := range []string{"AlternateTargetGroupArn", "ProductionListenerRule", "RoleArn"} {
			v, _ := adv[f].(string)
			if v == "" {
				c.add(RuleTemplateBlueGreen, id, "%s: strategy %s: advancedConfiguration.%s is missing", id, d.Strategy, f)
				continue
			}
			if tgt := target(v); tgt != "" {
				if _, ok := c.p.Resources[tgt]; !ok {
					c.add(RuleTemplateBlueGreen, id, "%s: advancedConfiguration.%s refers to %s, which the template does not declare", id, f, tgt)
				}
			}
		}
		if v, _ := adv["TestListenerRule"].(string); d.Strategy == "BLUE_GREEN" && v == "" {
			c.add(RuleTemplateBlueGreen, id, "%s: blue/green without a test listener rule: the new revision takes production traffic untested", id)
		}
	})
}
