// Package ecrfake is a stateful fake of the Amazon ECR control-plane API (JSON 1.1,
// X-Amz-Target AmazonEC2ContainerRegistry_V20150921.*) on top of fakeaws, for wire-level
// tests with the real aws-sdk-go-v2 ECR client. It keeps repositories (tag mutability,
// scan on push, encryption, tags, lifecycle policy) and images (digest, tags, manifest),
// and answers with ECR's error codes.
package ecrfake

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sync"
	"time"

	"dagger/fargate/pipeline/internal/fakeaws"
)

const service = "ecr"

// Repository is the fake's record of one repository.
type Repository struct {
	Name            string
	TagMutability   string // MUTABLE or IMMUTABLE
	ScanOnPush      bool
	EncryptionType  string // AES256 or KMS
	KMSKey          string
	Tags            map[string]string
	LifecyclePolicy string
	CreatedAt       time.Time
}

// Image is one image in a repository.
type Image struct {
	Digest    string
	Tags      []string
	Manifest  string
	MediaType string
	PushedAt  time.Time
	// ScanFindings are severity counts DescribeImageScanFindings reports (nil: no scan).
	ScanFindings map[string]int
}

// Fake is the ECR fake. Create it with New.
type Fake struct {
	Account string
	Region  string

	mu       sync.Mutex
	repos    map[string]*Repository
	images   map[string][]*Image // by repository
	token    string
	expires  time.Time
	endpoint string
}

var repoNameRe = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

// New registers the fake's operations on srv, for account and region.
func New(srv *fakeaws.Server, account, region string) *Fake {
	f := &Fake{
		Account: account, Region: region,
		repos: map[string]*Repository{}, images: map[string][]*Image{},
		token:    base64.StdEncoding.EncodeToString([]byte("AWS:fake-ecr-password-never-printed")),
		expires:  time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		endpoint: fmt.Sprintf("https://%s.dkr.ecr.%s.amazonaws.com", account, region),
	}
	ops := map[string]fakeaws.JSONHandler{
		"GetAuthorizationToken":         f.getAuthorizationToken,
		"DescribeRepositories":          handle(f, f.describeRepositories),
		"CreateRepository":              handle(f, f.createRepository),
		"PutLifecyclePolicy":            handle(f, f.putLifecyclePolicy),
		"GetLifecyclePolicy":            handle(f, f.getLifecyclePolicy),
		"PutImageScanningConfiguration": handle(f, f.putImageScanningConfiguration),
		"PutImageTagMutability":         handle(f, f.putImageTagMutability),
		"DescribeImages":                handle(f, f.describeImages),
		"BatchGetImage":                 handle(f, f.batchGetImage),
		"PutImage":                      handle(f, f.putImage),
		"ListTagsForResource":           handle(f, f.listTagsForResource),
		"DescribeImageScanFindings":     handle(f, f.describeImageScanFindings),
	}
	for op, h := range ops {
		srv.HandleJSON(service, op, h)
	}
	return f
}

// SetAuthorizationToken makes GetAuthorizationToken return this raw token (normally
// base64 of "AWS:<password>"; tests pass malformed ones too).
func (f *Fake) SetAuthorizationToken(token string, expires time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.token, f.expires = token, expires
}

// SetProxyEndpoint makes GetAuthorizationToken hand out this registry URL (a real registry
// the test or a standalone fake runs) instead of the default ECR host.
func (f *Fake) SetProxyEndpoint(url string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.endpoint = url
}

// AddRepository seeds a repository; zero fields get ECR's defaults (MUTABLE, AES256).
func (f *Fake) AddRepository(r Repository) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.TagMutability == "" {
		r.TagMutability = "MUTABLE"
	}
	if r.EncryptionType == "" {
		r.EncryptionType = "AES256"
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	f.repos[r.Name] = &r
}

// AddImage seeds an image with a manifest and tags, returning its digest. Tags move to
// it from other images, as a push to a mutable repository does.
func (f *Fake) AddImage(repo, manifest string, tags ...string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	sum := sha256.Sum256([]byte(manifest))
	img := &Image{Digest: "sha256:" + hex.EncodeToString(sum[:]), Manifest: manifest,
		MediaType: "application/vnd.oci.image.manifest.v1+json", PushedAt: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}
	for _, t := range tags {
		f.untag(repo, t)
	}
	if existing := f.find(repo, img.Digest, ""); existing != nil {
		existing.Tags = append(existing.Tags, tags...)
		return img.Digest
	}
	img.Tags = append(img.Tags, tags...)
	f.images[repo] = append(f.images[repo], img)
	return img.Digest
}

// SetScanFindings records scan results for an image.
func (f *Fake) SetScanFindings(repo, digest string, counts map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if img := f.find(repo, digest, ""); img != nil {
		img.ScanFindings = counts
	}
}

// Repository returns a copy of a repository's state.
func (f *Fake) Repository(name string) (Repository, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.repos[name]
	if !ok {
		return Repository{}, false
	}
	cp := *r
	cp.Tags = map[string]string{}
	for k, v := range r.Tags {
		cp.Tags[k] = v
	}
	return cp, true
}

// Images returns copies of a repository's images.
func (f *Fake) Images(repo string) []Image {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Image
	for _, img := range f.images[repo] {
		cp := *img
		cp.Tags = append([]string(nil), img.Tags...)
		out = append(out, cp)
	}
	return out
}

func (f *Fake) find(repo, digest, tag string) *Image {
	for _, img := range f.images[repo] {
		if digest != "" && img.Digest == digest {
			return img
		}
		if tag != "" && slices.Contains(img.Tags, tag) {
			return img
		}
	}
	return nil
}

func (f *Fake) untag(repo, tag string) {
	for _, img := range f.images[repo] {
		kept := img.Tags[:0]
		for _, t := range img.Tags {
			if t != tag {
				kept = append(kept, t)
			}
		}
		img.Tags = kept
	}
}

func (f *Fake) arn(name string) string {
	return fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s", f.Region, f.Account, name)
}

func (f *Fake) uri(name string) string {
	return fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s", f.Account, f.Region, name)
}

func epoch(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// --- wire shapes ---

type scanningConfiguration struct {
	ScanOnPush bool `json:"scanOnPush"`
}

type encryptionConfiguration struct {
	EncryptionType string `json:"encryptionType"`
	KMSKey         string `json:"kmsKey,omitempty"`
}

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type repositoryShape struct {
	RepositoryArn              string                  `json:"repositoryArn"`
	RegistryID                 string                  `json:"registryId"`
	RepositoryName             string                  `json:"repositoryName"`
	RepositoryURI              string                  `json:"repositoryUri"`
	CreatedAt                  float64                 `json:"createdAt"`
	ImageTagMutability         string                  `json:"imageTagMutability"`
	ImageScanningConfiguration scanningConfiguration   `json:"imageScanningConfiguration"`
	EncryptionConfiguration    encryptionConfiguration `json:"encryptionConfiguration"`
}

type imageID struct {
	ImageDigest string `json:"imageDigest,omitempty"`
	ImageTag    string `json:"imageTag,omitempty"`
}

func (f *Fake) shape(r *Repository) repositoryShape {
	return repositoryShape{
		RepositoryArn: f.arn(r.Name), RegistryID: f.Account, RepositoryName: r.Name, RepositoryURI: f.uri(r.Name),
		CreatedAt: epoch(r.CreatedAt), ImageTagMutability: r.TagMutability,
		ImageScanningConfiguration: scanningConfiguration{ScanOnPush: r.ScanOnPush},
		EncryptionConfiguration:    encryptionConfiguration{EncryptionType: r.EncryptionType, KMSKey: r.KMSKey},
	}
}

// handle adapts an operation to a fakeaws.JSONHandler: it decodes the request body into
// the operation's request type (a body that does not decode answers SerializationException)
// and runs the operation under the fake's lock.
func handle[Req any](f *Fake, op func(in *Req) (any, error)) fakeaws.JSONHandler {
	return func(body []byte) (any, error) {
		var in Req
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, fakeaws.Errorf("SerializationException", "bad request body: %v", err)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		return op(&in)
	}
}

func (f *Fake) repo(name string) (*Repository, error) {
	r, ok := f.repos[name]
	if !ok {
		return nil, fakeaws.Errorf("RepositoryNotFoundException",
			"The repository with name '%s' does not exist in the registry with id '%s'", name, f.Account)
	}
	return r, nil
}

// lifecyclePolicy is the answer of PutLifecyclePolicy and GetLifecyclePolicy.
func (f *Fake) lifecyclePolicy(r *Repository) map[string]any {
	return map[string]any{"registryId": f.Account, "repositoryName": r.Name, "lifecyclePolicyText": r.LifecyclePolicy}
}

// --- operations ---

func (f *Fake) getAuthorizationToken([]byte) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return map[string]any{"authorizationData": []map[string]any{{
		"authorizationToken": f.token, "expiresAt": epoch(f.expires), "proxyEndpoint": f.endpoint,
	}}}, nil
}

type describeRepositoriesRequest struct {
	RepositoryNames []string `json:"repositoryNames"`
}

func (f *Fake) describeRepositories(in *describeRepositoriesRequest) (any, error) {
	out := []repositoryShape{}
	if len(in.RepositoryNames) == 0 {
		in.RepositoryNames = slices.Sorted(maps.Keys(f.repos))
	}
	for _, n := range in.RepositoryNames {
		r, err := f.repo(n)
		if err != nil {
			return nil, err
		}
		out = append(out, f.shape(r))
	}
	return map[string]any{"repositories": out}, nil
}

type createRepositoryRequest struct {
	RepositoryName             string                   `json:"repositoryName"`
	Tags                       []tag                    `json:"tags"`
	ImageTagMutability         string                   `json:"imageTagMutability"`
	ImageScanningConfiguration *scanningConfiguration   `json:"imageScanningConfiguration"`
	EncryptionConfiguration    *encryptionConfiguration `json:"encryptionConfiguration"`
}

func (f *Fake) createRepository(in *createRepositoryRequest) (any, error) {
	if len(in.RepositoryName) < 2 || len(in.RepositoryName) > 256 || !repoNameRe.MatchString(in.RepositoryName) {
		return nil, fakeaws.Errorf("InvalidParameterException", "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '%s''", repoNameRe)
	}
	if _, ok := f.repos[in.RepositoryName]; ok {
		return nil, fakeaws.Errorf("RepositoryAlreadyExistsException",
			"The repository with name '%s' already exists in the registry with id '%s'", in.RepositoryName, f.Account)
	}
	r := &Repository{Name: in.RepositoryName, TagMutability: "MUTABLE", EncryptionType: "AES256", Tags: map[string]string{},
		CreatedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	if in.ImageTagMutability != "" {
		r.TagMutability = in.ImageTagMutability
	}
	if in.ImageScanningConfiguration != nil {
		r.ScanOnPush = in.ImageScanningConfiguration.ScanOnPush
	}
	if e := in.EncryptionConfiguration; e != nil {
		if e.EncryptionType != "AES256" && e.EncryptionType != "KMS" && e.EncryptionType != "KMS_DSSE" {
			return nil, fakeaws.Errorf("InvalidParameterException", "Invalid parameter at 'encryptionType'")
		}
		if e.EncryptionType == "AES256" && e.KMSKey != "" {
			return nil, fakeaws.Errorf("InvalidParameterException", "KMS key cannot be specified with AES256 encryption")
		}
		r.EncryptionType, r.KMSKey = e.EncryptionType, e.KMSKey
	}
	for _, t := range in.Tags {
		r.Tags[t.Key] = t.Value
	}
	f.repos[r.Name] = r
	return map[string]any{"repository": f.shape(r)}, nil
}

type putLifecyclePolicyRequest struct {
	RepositoryName      string `json:"repositoryName"`
	LifecyclePolicyText string `json:"lifecyclePolicyText"`
}

func (f *Fake) putLifecyclePolicy(in *putLifecyclePolicyRequest) (any, error) {
	if !json.Valid([]byte(in.LifecyclePolicyText)) {
		return nil, fakeaws.Errorf("InvalidParameterException", "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure'")
	}
	r, err := f.repo(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	r.LifecyclePolicy = in.LifecyclePolicyText
	return f.lifecyclePolicy(r), nil
}

// repositoryRequest names a repository.
type repositoryRequest struct {
	RepositoryName string `json:"repositoryName"`
}

func (f *Fake) getLifecyclePolicy(in *repositoryRequest) (any, error) {
	r, err := f.repo(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	if r.LifecyclePolicy == "" {
		return nil, fakeaws.Errorf("LifecyclePolicyNotFoundException",
			"Lifecycle policy does not exist for the repository with name '%s' in the registry with id '%s'", r.Name, f.Account)
	}
	return f.lifecyclePolicy(r), nil
}

type putImageScanningConfigurationRequest struct {
	RepositoryName             string                `json:"repositoryName"`
	ImageScanningConfiguration scanningConfiguration `json:"imageScanningConfiguration"`
}

func (f *Fake) putImageScanningConfiguration(in *putImageScanningConfigurationRequest) (any, error) {
	r, err := f.repo(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	r.ScanOnPush = in.ImageScanningConfiguration.ScanOnPush
	return map[string]any{"registryId": f.Account, "repositoryName": r.Name, "imageScanningConfiguration": in.ImageScanningConfiguration}, nil
}

type putImageTagMutabilityRequest struct {
	RepositoryName     string `json:"repositoryName"`
	ImageTagMutability string `json:"imageTagMutability"`
}

func (f *Fake) putImageTagMutability(in *putImageTagMutabilityRequest) (any, error) {
	if in.ImageTagMutability != "MUTABLE" && in.ImageTagMutability != "IMMUTABLE" {
		return nil, fakeaws.Errorf("InvalidParameterException", "Invalid parameter at 'imageTagMutability'")
	}
	r, err := f.repo(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	r.TagMutability = in.ImageTagMutability
	return map[string]any{"registryId": f.Account, "repositoryName": r.Name, "imageTagMutability": r.TagMutability}, nil
}

// imagesRequest names images of a repository (DescribeImages, BatchGetImage).
type imagesRequest struct {
	RepositoryName string    `json:"repositoryName"`
	ImageIDs       []imageID `json:"imageIds"`
}

func (f *Fake) describeImages(in *imagesRequest) (any, error) {
	if _, err := f.repo(in.RepositoryName); err != nil {
		return nil, err
	}
	var found []*Image
	if len(in.ImageIDs) == 0 {
		found = f.images[in.RepositoryName]
	}
	for _, id := range in.ImageIDs {
		img := f.find(in.RepositoryName, id.ImageDigest, id.ImageTag)
		if img == nil {
			return nil, fakeaws.Errorf("ImageNotFoundException",
				"The image with imageId {imageDigest:'%s', imageTag:'%s'} does not exist within the repository with name '%s' in the registry with id '%s'",
				id.ImageDigest, id.ImageTag, in.RepositoryName, f.Account)
		}
		found = append(found, img)
	}
	details := []map[string]any{}
	for _, img := range found {
		d := map[string]any{
			"registryId": f.Account, "repositoryName": in.RepositoryName, "imageDigest": img.Digest,
			"imagePushedAt": epoch(img.PushedAt), "imageManifestMediaType": img.MediaType, "imageSizeInBytes": len(img.Manifest),
		}
		if len(img.Tags) > 0 {
			d["imageTags"] = img.Tags
		}
		details = append(details, d)
	}
	return map[string]any{"imageDetails": details}, nil
}

func (f *Fake) batchGetImage(in *imagesRequest) (any, error) {
	if _, err := f.repo(in.RepositoryName); err != nil {
		return nil, err
	}
	images := []map[string]any{}
	failures := []map[string]any{}
	for _, id := range in.ImageIDs {
		img := f.find(in.RepositoryName, id.ImageDigest, id.ImageTag)
		switch {
		case img == nil:
			failures = append(failures, map[string]any{"imageId": id, "failureCode": "ImageNotFound", "failureReason": "Requested image not found"})
		case id.ImageDigest != "" && id.ImageTag != "" && (img.Digest != id.ImageDigest || !slices.Contains(img.Tags, id.ImageTag)):
			failures = append(failures, map[string]any{"imageId": id, "failureCode": "ImageTagDoesNotMatchDigest", "failureReason": "Invalid image digest/tag combination"})
		default:
			images = append(images, map[string]any{
				"registryId": f.Account, "repositoryName": in.RepositoryName,
				"imageId":       imageID{ImageDigest: img.Digest, ImageTag: id.ImageTag},
				"imageManifest": img.Manifest, "imageManifestMediaType": img.MediaType,
			})
		}
	}
	return map[string]any{"images": images, "failures": failures}, nil
}

type putImageRequest struct {
	RepositoryName         string `json:"repositoryName"`
	ImageManifest          string `json:"imageManifest"`
	ImageManifestMediaType string `json:"imageManifestMediaType"`
	ImageTag               string `json:"imageTag"`
	ImageDigest            string `json:"imageDigest"`
}

func (f *Fake) putImage(in *putImageRequest) (any, error) {
	r, err := f.repo(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(in.ImageManifest))
	digest := "sha256:" + hex.EncodeToString(sum[:])
	if in.ImageDigest != "" && in.ImageDigest != digest {
		return nil, fakeaws.Errorf("ImageDigestDoesNotMatchException", "Provided digest does not match the calculated digest")
	}
	img := f.find(r.Name, digest, "")
	if in.ImageTag != "" {
		holder := f.find(r.Name, "", in.ImageTag)
		switch {
		case holder != nil && holder.Digest == digest:
			return nil, fakeaws.Errorf("ImageAlreadyExistsException",
				"Image with digest '%s' and tag '%s' already exists in the repository with name '%s' in registry with id '%s'", digest, in.ImageTag, r.Name, f.Account)
		case holder != nil && r.TagMutability == "IMMUTABLE":
			return nil, fakeaws.Errorf("ImageTagAlreadyExistsException",
				"The image tag '%s' already exists in the '%s' repository and cannot be overwritten because the repository is immutable.", in.ImageTag, r.Name)
		case holder != nil:
			f.untag(r.Name, in.ImageTag)
		}
	}
	if img == nil {
		mt := in.ImageManifestMediaType
		if mt == "" {
			mt = "application/vnd.oci.image.manifest.v1+json"
		}
		img = &Image{Digest: digest, Manifest: in.ImageManifest, MediaType: mt, PushedAt: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)}
		f.images[r.Name] = append(f.images[r.Name], img)
	}
	if in.ImageTag != "" {
		img.Tags = append(img.Tags, in.ImageTag)
	}
	return map[string]any{"image": map[string]any{
		"registryId": f.Account, "repositoryName": r.Name, "imageId": imageID{ImageDigest: digest, ImageTag: in.ImageTag},
		"imageManifest": img.Manifest, "imageManifestMediaType": img.MediaType,
	}}, nil
}

type listTagsForResourceRequest struct {
	ResourceArn string `json:"resourceArn"`
}

func (f *Fake) listTagsForResource(in *listTagsForResourceRequest) (any, error) {
	for name, r := range f.repos {
		if f.arn(name) == in.ResourceArn {
			tags := []tag{}
			for _, k := range slices.Sorted(maps.Keys(r.Tags)) {
				tags = append(tags, tag{Key: k, Value: r.Tags[k]})
			}
			return map[string]any{"tags": tags}, nil
		}
	}
	return nil, fakeaws.Errorf("RepositoryNotFoundException", "The repository with ARN '%s' does not exist", in.ResourceArn)
}

type describeImageScanFindingsRequest struct {
	RepositoryName string  `json:"repositoryName"`
	ImageID        imageID `json:"imageId"`
}

func (f *Fake) describeImageScanFindings(in *describeImageScanFindingsRequest) (any, error) {
	if _, err := f.repo(in.RepositoryName); err != nil {
		return nil, err
	}
	img := f.find(in.RepositoryName, in.ImageID.ImageDigest, in.ImageID.ImageTag)
	if img == nil {
		return nil, fakeaws.Errorf("ImageNotFoundException", "The image does not exist within the repository with name '%s'", in.RepositoryName)
	}
	if img.ScanFindings == nil {
		return nil, fakeaws.Errorf("ScanNotFoundException", "Image scan does not exist for the image with '{imageDigest:'%s'}' in the repository with name '%s'", img.Digest, in.RepositoryName)
	}
	return map[string]any{
		"registryId": f.Account, "repositoryName": in.RepositoryName,
		"imageId":         imageID{ImageDigest: img.Digest},
		"imageScanStatus": map[string]any{"status": "COMPLETE", "description": "The scan was completed successfully."},
		"imageScanFindings": map[string]any{
			"imageScanCompletedAt":         epoch(img.PushedAt.Add(time.Minute)),
			"vulnerabilitySourceUpdatedAt": epoch(img.PushedAt),
			"findingSeverityCounts":        img.ScanFindings,
			"findings":                     []any{},
		},
	}, nil
}
