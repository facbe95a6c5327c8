package policy

import (
	"slices"
	"strings"
)

// The one least-privilege checker of IAM permissions policies: the FG-IAM rules run it over
// policy files and live roles, and the CloudFormation template check (pipeline/infra,
// FG-CFN-005) over the inline policies of a template. IAM action names are case-insensitive
// ("ECR:GetAuthorizationToken" is "ecr:GetAuthorizationToken": "the prefix and the action name
// are case insensitive", IAM JSON policy elements: Action,
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html),
// so every comparison of actions here is; resources compare in their case. GrantsActionOn is the
// one answer to "does this policy allow that action on that resource", for code and tests alike.

// IAMIssueKind is a way an Allow statement grants more than least privilege.
type IAMIssueKind string

// Issue kinds.
const (
	// IssueWildcardAction: an action with "*" (FG-IAM-001).
	IssueWildcardAction IAMIssueKind = "wildcard-action"
	// IssueWildcardResource: a wildcard resource for actions that support resource-level
	// permissions, not narrowed by a resource condition (FG-IAM-002).
	IssueWildcardResource IAMIssueKind = "wildcard-resource"
	// IssueNotAction and IssueNotResource: an Allow of everything but a list (FG-IAM-003).
	IssueNotAction   IAMIssueKind = "not-action"
	IssueNotResource IAMIssueKind = "not-resource"
)

// IAMIssue is one over-broad grant of one statement.
type IAMIssue struct {
	// Statement is the statement's index in the list given to LeastPrivilege.
	Statement int
	Kind      IAMIssueKind
	// Action is the wildcard action (IssueWildcardAction).
	Action string
	// Resource is the wildcard resource, and Actions the statement's actions on it that
	// support resource-level permissions, as written (IssueWildcardResource).
	Resource string
	Actions  []string
}

// LeastPrivilegeOptions adjusts which actions may be granted on Resource "*".
type LeastPrivilegeOptions struct {
	// ExecChannels lets the ECS Exec SSM channel actions (ssmmessages:*Channel), which accept
	// only "*", have it; leave it off where ECS Exec must be off.
	ExecChannels bool
}

// LeastPrivilege checks the Allow statements of a permissions policy (Deny statements are
// skipped): wildcard actions, wildcard resources and NotAction/NotResource, in statement order.
func LeastPrivilege(stmts []Statement, opts LeastPrivilegeOptions) []IAMIssue {
	var out []IAMIssue
	for i, s := range stmts {
		if s.Effect != "Allow" {
			continue
		}
		for _, a := range s.Action {
			if WildcardAction(a) {
				out = append(out, IAMIssue{Statement: i, Kind: IssueWildcardAction, Action: a})
			}
		}
		// A NotAction statement grants everything else, so its wildcard resource counts too.
		if needs := needResourceLevel(s.Action, opts); (len(needs) > 0 || len(s.Action) == 0) && !scopedByCondition(s) {
			for _, r := range s.Resource {
				if wildcardResource(r) {
					out = append(out, IAMIssue{Statement: i, Kind: IssueWildcardResource, Resource: r, Actions: needs})
				}
			}
		}
		if len(s.NotAction) > 0 {
			out = append(out, IAMIssue{Statement: i, Kind: IssueNotAction})
		}
		if len(s.NotResource) > 0 {
			out = append(out, IAMIssue{Statement: i, Kind: IssueNotResource})
		}
	}
	return out
}

// WildcardAction reports whether an action is a pattern ("*", "s3:*", "ecr:Get*").
func WildcardAction(a string) bool { return strings.Contains(a, "*") }

// GrantsAction reports whether an Allow statement's Action covers action, in any case and
// through wildcards ("iam:*", "IAM:Pass*", "ecr:GetAuthorizationToke?", "*").
func GrantsAction(s Statement, action string) bool { return coversAction(s.Action, action) }

// GrantsActionOn reports whether a permissions policy's statements allow action on resource:
// an Allow statement applies to both and no Deny statement does (an explicit Deny wins). A
// statement applies when its Action covers the action (or, with NotAction, none of NotAction
// does) and its Resource covers the resource (or, with NotResource, none of NotResource does).
// Actions compare in any case, resources case-sensitively, both with IAM's wildcards: * any run
// of characters, ? any one. Conditions are not evaluated: a statement applies as if its
// Condition held. A statement with neither Resource nor NotResource (a trust policy's) applies
// to no resource.
func GrantsActionOn(stmts []Statement, action, resource string) bool {
	allowed := false
	for _, s := range stmts {
		if !appliesTo(s, action, resource) {
			continue
		}
		switch s.Effect {
		case "Deny":
			return false
		case "Allow":
			allowed = true
		}
	}
	return allowed
}

// appliesTo reports whether a statement, whatever its effect, covers action on resource.
func appliesTo(s Statement, action, resource string) bool {
	switch {
	case len(s.Action) > 0:
		if !coversAction(s.Action, action) {
			return false
		}
	case len(s.NotAction) > 0:
		if coversAction(s.NotAction, action) {
			return false
		}
	default:
		return false
	}
	switch {
	case len(s.Resource) > 0:
		return coversResource(s.Resource, resource)
	case len(s.NotResource) > 0:
		return !coversResource(s.NotResource, resource)
	}
	return false
}

// coversAction reports whether one of the action patterns matches action, in any case.
func coversAction(patterns []string, action string) bool {
	action = strings.ToLower(action)
	for _, p := range patterns {
		if iamMatch(strings.ToLower(p), action) {
			return true
		}
	}
	return false
}

// coversResource reports whether one of the resource patterns matches resource, in its case.
func coversResource(patterns []string, resource string) bool {
	for _, p := range patterns {
		if iamMatch(p, resource) {
			return true
		}
	}
	return false
}

// needResourceLevel returns the actions that are not allowed on "*" (those that support
// resource-level permissions), as written.
func needResourceLevel(actions []string, opts LeastPrivilegeOptions) []string {
	allowed := starResourceActions(opts)
	var out []string
	for _, a := range actions {
		if !slices.Contains(allowed, strings.ToLower(a)) {
			out = append(out, a)
		}
	}
	return out
}

// starResourceActions are the actions (lower-case) that support no resource-level permissions,
// so a statement granting only these may use Resource "*"; each is documented as such in the
// AWS Service Authorization Reference (its "Resource types" column is empty). The Elastic Load
// Balancing Describe calls are the ones the ECS infrastructure role makes (the AWS managed
// AmazonECSInfrastructureRolePolicyForLoadBalancers grants them on "*" for that reason).
func starResourceActions(opts LeastPrivilegeOptions) []string {
	out := []string{
		"cloudwatch:putmetricdata",
		"ecr:getauthorizationtoken",
		"ecs:describetaskdefinition",
		"elasticloadbalancing:describelisteners",
		"elasticloadbalancing:describerules",
		"elasticloadbalancing:describetargetgroups",
		"elasticloadbalancing:describetargethealth",
		"logs:describeloggroups",
		// Parameter metadata (names, types, never values); it has no resource types. The
		// deploy's preflight check uses it instead of GetParameter, which returns values.
		"ssm:describeparameters",
		"sts:getcalleridentity",
		"xray:getsamplingrules",
		"xray:getsamplingstatisticsummaries",
		"xray:getsamplingtargets",
		"xray:puttelemetryrecords",
		"xray:puttracesegments",
	}
	if opts.ExecChannels {
		out = append(out, execChannelActions()...)
	}
	return out
}

// execChannelActions are the SSM message channel actions ECS Exec needs, on "*" only.
func execChannelActions() []string {
	return []string{
		"ssmmessages:createcontrolchannel",
		"ssmmessages:createdatachannel",
		"ssmmessages:opencontrolchannel",
		"ssmmessages:opendatachannel",
	}
}

// StarResourceExceptions returns the actions allowed with Resource "*" (lower-case), sorted;
// the ECS Exec channel actions are among them where ECS Exec may be on.
func StarResourceExceptions() []string {
	out := starResourceActions(LeastPrivilegeOptions{ExecChannels: true})
	slices.Sort(out)
	return out
}
