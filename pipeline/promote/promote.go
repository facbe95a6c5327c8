// Package promote decides what a promotion deploys: the exact image digest that is running,
// completed and steady in the source environment (read from the live ECS service and its
// current task definition, never rebuilt), and the gates a promotion must pass first: the
// image's signature verifies, and a named person approved it. The approval, the digest and
// the source environment become tags on the task definition the promotion registers.
package promote

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"dagger/fargate/pipeline/taskdef"
)

// Reader reads the live source service. *ecs.Client satisfies it.
type Reader interface {
	DescribeServices(ctx context.Context, params *ecs.DescribeServicesInput, optFns ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
	DescribeTaskDefinition(ctx context.Context, params *ecs.DescribeTaskDefinitionInput, optFns ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error)
}

// Source names the service a promotion takes its image from.
type Source struct {
	// Env is the source environment's name in the environments file (e.g. "preprod").
	Env string
	// Cluster and Service identify the live ECS service (names or ARNs).
	Cluster string
	Service string
	// Container is the container whose image is promoted.
	Container string
	// Region, when set, overrides the reader's region for these calls.
	Region string
}

// Candidate is what a promotion deploys: the digest running in the source environment.
type Candidate struct {
	// ImageRef is the digest reference, repository@sha256:<hex>, with any tag dropped.
	ImageRef string
	// Repository is ImageRef without the digest.
	Repository string
	// Digest is sha256:<hex>.
	Digest string
	// TaskDefinitionArn is the source service's current task definition.
	TaskDefinitionArn string
	// SourceEnv is the environment the image is promoted from.
	SourceEnv string
	// Revision is the source revision the image was built from, as the source task
	// definition's deploy:git-revision tag records it ("" when the tag is missing).
	Revision string
}

// Refusal kinds. A refused promotion returns a *Refusal whose Kind is one of these, so
// errors.Is(err, promote.ErrSourceInProgress) works and the report can name the reason.
var (
	ErrSourceNotFound   = errors.New("source service not found")
	ErrSourceInProgress = errors.New("source service is mid-deployment")
	ErrSourceFailed     = errors.New("source deployment failed")
	ErrSourceRolledBack = errors.New("source service rolled back")
	ErrSourceNotSteady  = errors.New("source service is not at its desired count")
	ErrContainerMissing = errors.New("container not in source task definition")
	ErrNotDigest        = errors.New("promotion needs a digest reference")
	ErrUnsigned         = errors.New("image signature did not verify")
	ErrApprovalRequired = errors.New("approval required")
	ErrInvalidApproval  = errors.New("invalid approval")
)

// Refusal is a promotion that was refused before anything was deployed.
type Refusal struct {
	// Kind is one of the Err* values above.
	Kind error
	// Detail says what was found, naming the resources involved.
	Detail string
}

func (r *Refusal) Error() string { return "promotion refused: " + r.Kind.Error() + ": " + r.Detail }

// Unwrap makes errors.Is(err, Kind) true.
func (r *Refusal) Unwrap() error { return r.Kind }

func refuse(kind error, format string, args ...any) *Refusal {
	return &Refusal{Kind: kind, Detail: fmt.Sprintf(format, args...)}
}

// IsRefusal reports whether err is a refused promotion (as opposed to an AWS or input error).
func IsRefusal(err error) bool {
	var r *Refusal
	return errors.As(err, &r)
}

// Validate checks that every field needed to read the source is set.
func (s Source) Validate() error {
	var missing []string
	for _, f := range []struct{ name, value string }{
		{"env", s.Env}, {"cluster", s.Cluster}, {"service", s.Service}, {"container", s.Container},
	} {
		if strings.TrimSpace(f.value) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("promotion source: %s must be set (the environment promoted from, its ECS cluster, service and container)", strings.Join(missing, ", "))
	}
	return nil
}

// Resolve reads the source service and returns the image it runs, refusing (with a *Refusal)
// unless the service has exactly one deployment, that deployment is PRIMARY, COMPLETED, on the
// service's task definition and at its desired count, and the container's image is pinned by
// digest.
func Resolve(ctx context.Context, r Reader, src Source) (Candidate, error) {
	if err := src.Validate(); err != nil {
		return Candidate{}, err
	}
	if r == nil {
		return Candidate{}, errors.New("promotion source: no ECS reader")
	}
	var opts []func(*ecs.Options)
	if src.Region != "" {
		region := src.Region
		opts = append(opts, func(o *ecs.Options) { o.Region = region })
	}
	where := fmt.Sprintf("%s service %s/%s", src.Env, src.Cluster, src.Service)

	out, err := r.DescribeServices(ctx, &ecs.DescribeServicesInput{
		Cluster:  aws.String(src.Cluster),
		Services: []string{src.Service},
	}, opts...)
	if err != nil {
		return Candidate{}, fmt.Errorf("describe %s: %w", where, err)
	}
	svc, err := pickService(out, src, where)
	if err != nil {
		return Candidate{}, err
	}
	tdArn, err := checkSettled(svc, where)
	if err != nil {
		return Candidate{}, err
	}

	td, err := r.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(tdArn), Include: []types.TaskDefinitionField{types.TaskDefinitionFieldTags}}, opts...)
	if err != nil {
		return Candidate{}, fmt.Errorf("describe task definition %s of %s: %w", tdArn, where, err)
	}
	if td.TaskDefinition == nil {
		return Candidate{}, fmt.Errorf("describe task definition %s of %s: empty answer", tdArn, where)
	}
	var names []string
	var image string
	found := false
	for _, c := range td.TaskDefinition.ContainerDefinitions {
		name := aws.ToString(c.Name)
		names = append(names, name)
		if name == src.Container {
			image, found = aws.ToString(c.Image), true
		}
	}
	if !found {
		return Candidate{}, refuse(ErrContainerMissing, "container %q is not in %s (containers: %s)", src.Container, tdArn, strings.Join(names, ", "))
	}
	repo, digest, err := ParseDigestRef(image)
	if err != nil {
		return Candidate{}, refuse(ErrNotDigest, "container %q of %s runs %q: %v", src.Container, tdArn, image, err)
	}
	var revision string
	for _, t := range td.Tags {
		if aws.ToString(t.Key) == taskdef.TagGitRevision {
			revision = aws.ToString(t.Value)
		}
	}
	return Candidate{
		Revision:          revision,
		ImageRef:          repo + "@" + digest,
		Repository:        repo,
		Digest:            digest,
		TaskDefinitionArn: tdArn,
		SourceEnv:         src.Env,
	}, nil
}

func pickService(out *ecs.DescribeServicesOutput, src Source, where string) (types.Service, error) {
	for _, s := range out.Services {
		if aws.ToString(s.ServiceName) == src.Service || aws.ToString(s.ServiceArn) == src.Service {
			if st := aws.ToString(s.Status); st != "" && st != "ACTIVE" {
				return types.Service{}, refuse(ErrSourceNotFound, "%s is %s, not ACTIVE", where, st)
			}
			return s, nil
		}
	}
	var reasons []string
	for _, f := range out.Failures {
		reasons = append(reasons, aws.ToString(f.Reason))
	}
	if len(reasons) > 0 {
		return types.Service{}, refuse(ErrSourceNotFound, "%s: %s", where, strings.Join(reasons, "; "))
	}
	return types.Service{}, refuse(ErrSourceNotFound, "%s is not in the answer", where)
}

// checkSettled returns the task definition of the service's single, completed PRIMARY
// deployment, or refuses.
func checkSettled(svc types.Service, where string) (string, error) {
	var primary *types.Deployment
	for i := range svc.Deployments {
		if aws.ToString(svc.Deployments[i].Status) == "PRIMARY" {
			primary = &svc.Deployments[i]
		}
	}
	if primary == nil {
		return "", refuse(ErrSourceInProgress, "%s has no PRIMARY deployment", where)
	}
	if len(svc.Deployments) > 1 {
		others := make([]string, 0, len(svc.Deployments)-1)
		rolledBack := false
		for _, d := range svc.Deployments {
			if d.Id == primary.Id {
				continue
			}
			others = append(others, describeDeployment(d))
			if d.RolloutState == types.DeploymentRolloutStateFailed {
				rolledBack = true
			}
		}
		if rolledBack {
			return "", refuse(ErrSourceRolledBack, "%s is rolling back to %s after a failed deployment (%s)",
				where, taskdef.ShortName(aws.ToString(primary.TaskDefinition)), strings.Join(others, "; "))
		}
		return "", refuse(ErrSourceInProgress, "%s has %d deployments: primary %s; others %s",
			where, len(svc.Deployments), describeDeployment(*primary), strings.Join(others, "; "))
	}
	switch primary.RolloutState {
	case types.DeploymentRolloutStateCompleted:
	case types.DeploymentRolloutStateFailed:
		return "", refuse(ErrSourceFailed, "%s: %s", where, describeDeployment(*primary))
	case types.DeploymentRolloutStateInProgress:
		return "", refuse(ErrSourceInProgress, "%s: %s", where, describeDeployment(*primary))
	default:
		// Services without the rolling-update circuit breaker report no rollout state.
		return "", refuse(ErrSourceInProgress, "%s: deployment %s reports no rollout state (COMPLETED expected)",
			where, aws.ToString(primary.Id))
	}
	tdArn := aws.ToString(primary.TaskDefinition)
	if tdArn == "" {
		return "", refuse(ErrSourceInProgress, "%s: PRIMARY deployment %s names no task definition", where, aws.ToString(primary.Id))
	}
	if svcTD := aws.ToString(svc.TaskDefinition); svcTD != "" && svcTD != tdArn {
		return "", refuse(ErrSourceRolledBack, "%s is configured for %s but its completed deployment runs %s",
			where, taskdef.ShortName(svcTD), taskdef.ShortName(tdArn))
	}
	if primary.RunningCount != primary.DesiredCount || svc.RunningCount != svc.DesiredCount {
		return "", refuse(ErrSourceNotSteady, "%s runs %d of %d tasks (%d pending)",
			where, svc.RunningCount, svc.DesiredCount, svc.PendingCount)
	}
	if svc.DesiredCount == 0 {
		return "", refuse(ErrSourceNotSteady, "%s is scaled to zero: nothing verified runs there", where)
	}
	return tdArn, nil
}

func describeDeployment(d types.Deployment) string {
	s := fmt.Sprintf("%s %s on %s, %s, %d/%d running",
		aws.ToString(d.Id), aws.ToString(d.Status), taskdef.ShortName(aws.ToString(d.TaskDefinition)),
		orNone(string(d.RolloutState)), d.RunningCount, d.DesiredCount)
	if d.FailedTasks > 0 {
		s += fmt.Sprintf(", %d failed tasks", d.FailedTasks)
	}
	if r := aws.ToString(d.RolloutStateReason); r != "" {
		s += ": " + r
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "no rollout state"
	}
	return s
}

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// repoRE is a registry host with optional port followed by lowercase path components, per
// the OCI distribution reference grammar (simplified: it rejects what AWS would reject).
var repoRE = regexp.MustCompile(`^[a-zA-Z0-9.-]+(:[0-9]+)?(/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)+$|^[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*(/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)*$`)

// ParseDigestRef splits an image reference pinned by digest into repository and sha256
// digest. "repo:tag@sha256:..." is accepted and the tag dropped; a reference without a
// digest is refused: a tag can move, so it is not promotable.
func ParseDigestRef(ref string) (repository, digest string, err error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return "", "", errors.New("empty image reference")
	}
	at := strings.LastIndex(ref, "@")
	if at < 0 {
		return "", "", fmt.Errorf("%q is not pinned by digest (repository@sha256:<64 hex>): a tag is not promotable", ref)
	}
	repository, digest = ref[:at], ref[at+1:]
	if !digestRE.MatchString(digest) {
		return "", "", fmt.Errorf("%q: digest %q is not sha256:<64 lowercase hex>", ref, digest)
	}
	// Drop a tag: a ':' after the last '/' (a ':' before it is a registry port).
	if slash := strings.LastIndex(repository, "/"); strings.LastIndex(repository, ":") > slash {
		repository = repository[:strings.LastIndex(repository, ":")]
	}
	if !repoRE.MatchString(repository) {
		return "", "", fmt.Errorf("%q: %q is not a valid repository name", ref, repository)
	}
	return repository, digest, nil
}

// Verifier checks an image's signature; the pipeline implements it with cosign. It returns
// the verified signer identity (a certificate identity or a key reference) or an error
// saying why the image is not verifiably signed.
type Verifier interface {
	Verify(ctx context.Context, imageRef string) (identity string, err error)
}

// RequireSigned verifies the signature of a digest reference and returns the signer's
// identity; an unsigned or unverifiable image refuses the promotion.
func RequireSigned(ctx context.Context, v Verifier, ref string) (string, error) {
	if _, _, err := ParseDigestRef(ref); err != nil {
		return "", refuse(ErrNotDigest, "%v", err)
	}
	if v == nil {
		return "", errors.New("signature gate: no verifier configured")
	}
	identity, err := v.Verify(ctx, ref)
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("verify signature of %s: %w", ref, err)
		}
		return "", refuse(ErrUnsigned, "%s: %v", ref, err)
	}
	if strings.TrimSpace(identity) == "" {
		return "", refuse(ErrUnsigned, "%s: the verifier returned no signer identity", ref)
	}
	return identity, nil
}
