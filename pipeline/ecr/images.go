package ecr

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// ErrTagConflict is wrapped when a tag already points at another digest.
var ErrTagConflict = errors.New("tag already exists with another digest")

var (
	digestRe = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	tagRe    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)
)

func validateTag(tag string) error {
	if !tagRe.MatchString(tag) {
		return fmt.Errorf("tag %q: expected 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'", tag)
	}
	return nil
}

// TagDigest returns the digest repo:tag points at; found is false when the tag (or the
// repository) does not exist.
func (c *Client) TagDigest(ctx context.Context, repo, tag string) (digest string, found bool, err error) {
	if err := ValidateRepositoryName(repo); err != nil {
		return "", false, fmt.Errorf("look up tag: %w", err)
	}
	if err := validateTag(tag); err != nil {
		return "", false, fmt.Errorf("look up tag in %s: %w", repo, err)
	}
	out, err := c.api.DescribeImages(ctx, &ecr.DescribeImagesInput{
		RepositoryName: aws.String(repo), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String(tag)}},
	})
	switch code := errorCode(err); {
	case code == "ImageNotFoundException" || code == "RepositoryNotFoundException":
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("look up %s:%s: %w", repo, tag, explain("DescribeImages", err))
	}
	for _, d := range out.ImageDetails {
		return aws.ToString(d.ImageDigest), true, nil
	}
	return "", false, nil
}

// CheckTag is the guard before a push: nil when repo:tag is free or already points at
// digest (idempotent), an ErrTagConflict error when it points at another digest. A tag
// is never overwritten.
func (c *Client) CheckTag(ctx context.Context, repo, tag, digest string) error {
	if !digestRe.MatchString(digest) {
		return fmt.Errorf("check tag %s:%s: digest %q: expected sha256:<64 hex>", repo, tag, digest)
	}
	got, found, err := c.TagDigest(ctx, repo, tag)
	if err != nil {
		return fmt.Errorf("check tag: %w", err)
	}
	if !found || got == digest {
		return nil
	}
	return conflict(repo, tag, got, digest)
}

func conflict(repo, tag, got, digest string) error {
	return fmt.Errorf("%s:%s: %w: it points at %s, the image to push is %s; a tag that exists with another digest is an error, not an overwrite (use a new tag)",
		repo, tag, ErrTagConflict, got, digest)
}

// TagImage adds tag to the image digest already in repo (promotion without a re-push),
// through BatchGetImage and PutImage. Tagging an image with a tag it already has is a
// no-op; a tag held by another image is an ErrTagConflict error, whatever the
// repository's tag mutability.
func (c *Client) TagImage(ctx context.Context, repo, digest, tag string) error {
	if err := ValidateRepositoryName(repo); err != nil {
		return fmt.Errorf("tag image: %w", err)
	}
	if err := validateTag(tag); err != nil {
		return fmt.Errorf("tag image in %s: %w", repo, err)
	}
	if !digestRe.MatchString(digest) {
		return fmt.Errorf("tag image %s:%s: digest %q: expected sha256:<64 hex>", repo, tag, digest)
	}
	cur, found, err := c.TagDigest(ctx, repo, tag)
	switch {
	case err != nil:
		return fmt.Errorf("tag image: %w", err)
	case found && cur == digest:
		return nil // already tagged
	case found:
		return fmt.Errorf("tag image: %w", conflict(repo, tag, cur, digest))
	}
	got, err := c.api.BatchGetImage(ctx, &ecr.BatchGetImageInput{
		RepositoryName: aws.String(repo), ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(digest)}},
		AcceptedMediaTypes: []string{
			"application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
			"application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.distribution.manifest.list.v2+json",
		},
	})
	if err != nil {
		return fmt.Errorf("tag image %s@%s: get manifest: %w", repo, digest, explain("BatchGetImage", err))
	}
	if len(got.Images) == 0 {
		reason := "not found"
		if len(got.Failures) > 0 {
			reason = fmt.Sprintf("%s: %s", got.Failures[0].FailureCode, aws.ToString(got.Failures[0].FailureReason))
		}
		return fmt.Errorf("tag image %s@%s: %s", repo, digest, reason)
	}
	img := got.Images[0]
	_, err = c.api.PutImage(ctx, &ecr.PutImageInput{
		RepositoryName: aws.String(repo), ImageManifest: img.ImageManifest, ImageManifestMediaType: img.ImageManifestMediaType,
		ImageTag: aws.String(tag), ImageDigest: aws.String(digest),
	})
	switch errorCode(err) {
	case "":
		return nil
	case "ImageAlreadyExistsException":
		return nil // the tag already points at this digest
	case "ImageTagAlreadyExistsException":
		return fmt.Errorf("tag image %s:%s: %w: the repository has immutable tags and %s is taken by another image; push a new tag", repo, tag, ErrTagConflict, tag)
	}
	return fmt.Errorf("tag image %s:%s: %w", repo, tag, explain("PutImage", err))
}

// ScanSummary is ECR's own scan of an image (basic scan on push).
type ScanSummary struct {
	Status      string         // COMPLETE, IN_PROGRESS, FAILED, ...
	Description string         // the status description
	Counts      map[string]int // by severity: CRITICAL, HIGH, ...
}

// ScanFindings reads ECR's scan result for an image. found is false when ECR has not
// scanned it (ScanNotFoundException).
func (c *Client) ScanFindings(ctx context.Context, repo, digest string) (ScanSummary, bool, error) {
	if !digestRe.MatchString(digest) {
		return ScanSummary{}, false, fmt.Errorf("read scan findings of %s: digest %q: expected sha256:<64 hex>", repo, digest)
	}
	out, err := c.api.DescribeImageScanFindings(ctx, &ecr.DescribeImageScanFindingsInput{
		RepositoryName: aws.String(repo), ImageId: &types.ImageIdentifier{ImageDigest: aws.String(digest)},
	})
	if errorCode(err) == "ScanNotFoundException" {
		return ScanSummary{}, false, nil
	}
	if err != nil {
		return ScanSummary{}, false, fmt.Errorf("read scan findings of %s@%s: %w", repo, digest, explain("DescribeImageScanFindings", err))
	}
	s := ScanSummary{Counts: map[string]int{}}
	if out.ImageScanStatus != nil {
		s.Status, s.Description = string(out.ImageScanStatus.Status), aws.ToString(out.ImageScanStatus.Description)
	}
	if out.ImageScanFindings != nil {
		for k, v := range out.ImageScanFindings.FindingSeverityCounts {
			s.Counts[k] = int(v)
		}
	}
	return s, true, nil
}
