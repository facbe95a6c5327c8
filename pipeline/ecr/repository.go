package ecr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"dagger/fargate/pipeline/findings"
	"dagger/fargate/pipeline/policy"
)

// DefaultKeepImages is how many tagged images the lifecycle policy keeps by default.
const DefaultKeepImages = 50

// repositoryNameRe is ECR's repository name pattern (length 2 to 256).
var repositoryNameRe = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

// ValidateRepositoryName checks a name against ECR's rules.
func ValidateRepositoryName(name string) error {
	switch {
	case name == "":
		return errors.New("repository name is required")
	case len(name) < 2 || len(name) > 256:
		return fmt.Errorf("repository name %q: must be 2 to 256 characters long", name)
	case strings.ToLower(name) != name:
		return fmt.Errorf("repository name %q: must be lowercase", name)
	case !repositoryNameRe.MatchString(name):
		return fmt.Errorf("repository name %q: expected lowercase letters and digits, separated by single '.', '_' or '-', in '/'-separated parts (e.g. shop/api)", name)
	}
	return nil
}

// RepositoryOptions describe the repository the pipeline pushes to. The zero value of
// each switch is the secure choice.
type RepositoryOptions struct {
	Name string
	// KMSKey is a customer-managed KMS key (ARN, key ID or alias/NAME) for encryption
	// (ECR.5). Empty means KMS with the AWS-managed key (aws/ecr), reported as an ECR.5
	// finding: only a customer-managed key satisfies ECR.5. Encryption is fixed at
	// creation and never changed afterwards.
	KMSKey string
	// AllowMutableTags creates the repository with MUTABLE tags (ECR.2 finding).
	AllowMutableTags bool
	// DisableScanOnPush turns basic scan on push off (ECR.1 finding, unless the
	// registry uses enhanced scanning).
	DisableScanOnPush bool
	// KeepImages is how many tagged images the lifecycle policy keeps; 0 means
	// DefaultKeepImages.
	KeepImages int
	// Tags are resource tags set at creation.
	Tags map[string]string
	// FixDrift updates tag mutability and scan on push of an existing repository to the
	// options; otherwise drift is only reported.
	FixDrift bool
}

// Finding is a way the repository falls short of the options or of an ECR control (ECR.1,
// ECR.2, ECR.3, ECR.5): the pipeline's one findings model (findings.Finding), with the policy
// rule of that control (FG-ECR-…) and its severity.
type Finding = findings.Finding

// repositoryFinding is the finding for a control of the named repository, from the audit source.
func repositoryFinding(repo, control, message string) Finding {
	f := Finding{Controls: []string{control}, Resource: "ecr/" + repo, Message: message, Source: findings.SourceAudit}
	for _, r := range policy.Rules() {
		if r.Target == policy.TargetRepository && slices.Contains(r.Controls, control) {
			f.Rule, f.Severity = r.ID, r.Severity
		}
	}
	return f
}

// RepositoryResult says what EnsureRepository found and did.
type RepositoryResult struct {
	Name, ARN, URI string
	Created        bool
	// Changes lists what was changed ("created repository", "put lifecycle policy", ...).
	Changes []string
	// Findings are remaining shortfalls (drift that was not fixed, AES256 encryption).
	Findings []Finding
}

// LifecyclePolicy returns the lifecycle policy JSON that keeps the newest keep tagged
// images. Untagged manifests are left alone: cosign v3 signatures and attestations are
// untagged referrers of the images they sign.
func LifecyclePolicy(keep int) (string, error) {
	if keep <= 0 || keep > 10000 {
		return "", fmt.Errorf("keepImages %d: expected 1 to 10000", keep)
	}
	type selection struct {
		TagStatus      string   `json:"tagStatus"`
		TagPatternList []string `json:"tagPatternList"`
		CountType      string   `json:"countType"`
		CountNumber    int      `json:"countNumber"`
	}
	type rule struct {
		RulePriority int               `json:"rulePriority"`
		Description  string            `json:"description"`
		Selection    selection         `json:"selection"`
		Action       map[string]string `json:"action"`
	}
	policy := map[string][]rule{"rules": {{
		RulePriority: 1,
		Description:  fmt.Sprintf("keep the newest %d tagged images", keep),
		Selection:    selection{TagStatus: "tagged", TagPatternList: []string{"*"}, CountType: "imageCountMoreThan", CountNumber: keep},
		Action:       map[string]string{"type": "expire"},
	}}}
	data, err := json.Marshal(policy)
	return string(data), err
}

// EnsureRepository makes sure the repository exists as the options say: it creates a
// missing one (scan on push, immutable tags, encryption, tags) and puts the lifecycle
// policy when none exists. On an existing repository it reports drift as findings, and
// with FixDrift corrects tag mutability and scan on push. Encryption is never changed.
func (c *Client) EnsureRepository(ctx context.Context, o RepositoryOptions) (*RepositoryResult, error) {
	if err := ValidateRepositoryName(o.Name); err != nil {
		return nil, fmt.Errorf("ensure ECR repository: %w", err)
	}
	keep := o.KeepImages
	if keep == 0 {
		keep = DefaultKeepImages
	}
	policy, err := LifecyclePolicy(keep)
	if err != nil {
		return nil, fmt.Errorf("ensure ECR repository %q: %w", o.Name, err)
	}
	wantMutability := types.ImageTagMutabilityImmutable
	if o.AllowMutableTags {
		wantMutability = types.ImageTagMutabilityMutable
	}
	wantScan := !o.DisableScanOnPush

	res := &RepositoryResult{Name: o.Name}
	repo, err := c.describeRepository(ctx, o.Name)
	if err != nil {
		return nil, fmt.Errorf("ensure ECR repository %q: %w", o.Name, err)
	}
	if repo == nil {
		repo, err = c.createRepository(ctx, o, wantMutability, wantScan)
		if err != nil {
			return nil, fmt.Errorf("ensure ECR repository %q: %w", o.Name, err)
		}
		res.Created = true
		res.Changes = append(res.Changes, "created repository")
	} else {
		if err := c.reconcile(ctx, o, repo, wantMutability, wantScan, res); err != nil {
			return nil, fmt.Errorf("ensure ECR repository %q: %w", o.Name, err)
		}
	}
	res.ARN, res.URI = aws.ToString(repo.RepositoryArn), aws.ToString(repo.RepositoryUri)

	_, err = c.api.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String(o.Name)})
	switch {
	case errorCode(err) == "LifecyclePolicyNotFoundException":
		if _, err := c.api.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String(o.Name), LifecyclePolicyText: aws.String(policy)}); err != nil {
			return nil, fmt.Errorf("ensure ECR repository %q: put lifecycle policy: %w", o.Name, explain("PutLifecyclePolicy", err))
		}
		res.Changes = append(res.Changes, fmt.Sprintf("put lifecycle policy (keep %d tagged images)", keep))
	case err != nil:
		return nil, fmt.Errorf("ensure ECR repository %q: get lifecycle policy: %w", o.Name, explain("GetLifecyclePolicy", err))
	}

	enc := repo.EncryptionConfiguration
	if o.KMSKey == "" {
		got := "AES256"
		if enc != nil && enc.EncryptionType != types.EncryptionTypeAes256 {
			got = "the AWS-managed KMS key"
			if enc.KmsKey != nil {
				got = "KMS key " + aws.ToString(enc.KmsKey)
			}
		}
		if enc == nil || enc.EncryptionType == types.EncryptionTypeAes256 || enc.KmsKey == nil {
			res.Findings = append(res.Findings, repositoryFinding(o.Name, "ECR.5", "repository is encrypted with "+got+", not a customer-managed KMS key (encryption cannot be changed after creation; set registry.kmsKey and recreate the repository to comply)"))
		}
	}
	if !wantScan && !aws.ToBool(scanOnPush(repo)) {
		res.Findings = append(res.Findings, repositoryFinding(o.Name, "ECR.1", "scan on push is disabled (compliant only if the registry uses enhanced scanning)"))
	}
	if wantMutability == types.ImageTagMutabilityMutable && repo.ImageTagMutability == types.ImageTagMutabilityMutable {
		res.Findings = append(res.Findings, repositoryFinding(o.Name, "ECR.2", "image tags are MUTABLE"))
	}
	sort.SliceStable(res.Findings, func(i, j int) bool { return res.Findings[i].Controls[0] < res.Findings[j].Controls[0] })
	return res, nil
}

func scanOnPush(r *types.Repository) *bool {
	if r.ImageScanningConfiguration == nil {
		return aws.Bool(false)
	}
	return aws.Bool(r.ImageScanningConfiguration.ScanOnPush)
}

func (c *Client) describeRepository(ctx context.Context, name string) (*types.Repository, error) {
	out, err := c.api.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{name}})
	if errorCode(err) == "RepositoryNotFoundException" {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe repository: %w", explain("DescribeRepositories", err))
	}
	for i := range out.Repositories {
		if aws.ToString(out.Repositories[i].RepositoryName) == name {
			return &out.Repositories[i], nil
		}
	}
	return nil, nil
}

func (c *Client) createRepository(ctx context.Context, o RepositoryOptions, mut types.ImageTagMutability, scan bool) (*types.Repository, error) {
	// Without a configured key: KMS with the AWS-managed key (aws/ecr).
	enc := &types.EncryptionConfiguration{EncryptionType: types.EncryptionTypeKms}
	if o.KMSKey != "" {
		enc = &types.EncryptionConfiguration{EncryptionType: types.EncryptionTypeKms, KmsKey: aws.String(o.KMSKey)}
	}
	keys := slices.Sorted(maps.Keys(o.Tags))
	var tags []types.Tag
	for _, k := range keys {
		tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(o.Tags[k])})
	}
	out, err := c.api.CreateRepository(ctx, &ecr.CreateRepositoryInput{
		RepositoryName:             aws.String(o.Name),
		ImageTagMutability:         mut,
		ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: scan},
		EncryptionConfiguration:    enc,
		Tags:                       tags,
	})
	if errorCode(err) == "RepositoryAlreadyExistsException" {
		// Created concurrently by another run: use it as it is.
		repo, derr := c.describeRepository(ctx, o.Name)
		if derr != nil || repo == nil {
			return nil, fmt.Errorf("create repository: %w", err)
		}
		return repo, nil
	}
	if err != nil {
		op := "CreateRepository"
		if len(tags) > 0 {
			op = "CreateRepository and ecr:TagResource (for the repository tags)"
		}
		return nil, fmt.Errorf("create repository: %w", explain(op, err))
	}
	return out.Repository, nil
}

func (c *Client) reconcile(ctx context.Context, o RepositoryOptions, repo *types.Repository, mut types.ImageTagMutability, scan bool, res *RepositoryResult) error {
	if mut == types.ImageTagMutabilityImmutable && repo.ImageTagMutability != types.ImageTagMutabilityImmutable {
		if o.FixDrift {
			if _, err := c.api.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String(o.Name), ImageTagMutability: mut}); err != nil {
				return fmt.Errorf("set tag mutability: %w", explain("PutImageTagMutability", err))
			}
			repo.ImageTagMutability = mut
			res.Changes = append(res.Changes, "set image tags to IMMUTABLE")
		} else {
			res.Findings = append(res.Findings, repositoryFinding(o.Name, "ECR.2", fmt.Sprintf("existing repository has %s tags, expected IMMUTABLE (set fixDrift to correct it)", repo.ImageTagMutability)))
		}
	}
	if scan && !aws.ToBool(scanOnPush(repo)) {
		if o.FixDrift {
			if _, err := c.api.PutImageScanningConfiguration(ctx, &ecr.PutImageScanningConfigurationInput{
				RepositoryName: aws.String(o.Name), ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: true},
			}); err != nil {
				return fmt.Errorf("enable scan on push: %w", explain("PutImageScanningConfiguration", err))
			}
			repo.ImageScanningConfiguration = &types.ImageScanningConfiguration{ScanOnPush: true}
			res.Changes = append(res.Changes, "enabled scan on push")
		} else {
			res.Findings = append(res.Findings, repositoryFinding(o.Name, "ECR.1", "existing repository has scan on push disabled (set fixDrift to enable it)"))
		}
	}
	enc := repo.EncryptionConfiguration
	if o.KMSKey != "" && (enc == nil || enc.EncryptionType == types.EncryptionTypeAes256 || aws.ToString(enc.KmsKey) != o.KMSKey) {
		got := "AES256"
		if enc != nil && enc.EncryptionType != types.EncryptionTypeAes256 {
			got = fmt.Sprintf("%s key %s", enc.EncryptionType, aws.ToString(enc.KmsKey))
		}
		res.Findings = append(res.Findings, repositoryFinding(o.Name, "ECR.5", fmt.Sprintf("existing repository is encrypted with %s, not the configured KMS key %s; encryption cannot be changed after creation", got, o.KMSKey)))
	}
	return nil
}
