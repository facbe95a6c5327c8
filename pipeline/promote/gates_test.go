package promote_test

import (
	"context"
	"errors"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/promote"
)

type fakeVerifier struct {
	identity string
	err      error
	got      []string
}

func (v *fakeVerifier) Verify(_ context.Context, ref string) (string, error) {
	v.got = append(v.got, ref)
	return v.identity, v.err
}

func TestRequireSigned(t *testing.T) {
	ref := repo + "@" + digest41
	signer := "https://github.com/example/fargate/.github/workflows/deploy.yml@refs/heads/main"

	t.Run("verified", func(t *testing.T) {
		v := &fakeVerifier{identity: signer}
		id, err := promote.RequireSigned(context.Background(), v, ref)
		require.NoError(t, err)
		assert.Equal(t, signer, id)
		assert.Equal(t, []string{ref}, v.got, "the digest reference itself is verified")
	})
	t.Run("unsigned", func(t *testing.T) {
		v := &fakeVerifier{err: errors.New("no signatures found")}
		_, err := promote.RequireSigned(context.Background(), v, ref)
		require.ErrorIs(t, err, promote.ErrUnsigned)
		assert.True(t, promote.IsRefusal(err))
		assert.Contains(t, err.Error(), "no signatures found")
		assert.Contains(t, err.Error(), digest41)
	})
	t.Run("verifier answers without identity", func(t *testing.T) {
		_, err := promote.RequireSigned(context.Background(), &fakeVerifier{identity: "  "}, ref)
		require.ErrorIs(t, err, promote.ErrUnsigned)
		assert.Contains(t, err.Error(), "no signer identity")
	})
	t.Run("tag is refused before verifying", func(t *testing.T) {
		v := &fakeVerifier{identity: signer}
		_, err := promote.RequireSigned(context.Background(), v, repo+":latest")
		require.ErrorIs(t, err, promote.ErrNotDigest)
		assert.Contains(t, err.Error(), "promotion needs a digest reference")
		assert.Empty(t, v.got)
	})
	t.Run("no verifier", func(t *testing.T) {
		_, err := promote.RequireSigned(context.Background(), nil, ref)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "no verifier")
	})
	t.Run("cancelled is not a refusal", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := promote.RequireSigned(ctx, &fakeVerifier{err: context.Canceled}, ref)
		require.Error(t, err)
		assert.False(t, promote.IsRefusal(err))
		assert.ErrorIs(t, err, context.Canceled)
	})
}

var approvedAt = time.Date(2026, 11, 25, 18, 30, 0, 0, time.UTC)

func TestApprovalValidate(t *testing.T) {
	cases := []struct {
		name string
		a    promote.Approval
		err  string
	}{
		{name: "github login", a: promote.Approval{By: "octo-cat", At: approvedAt}},
		{name: "bot", a: promote.Approval{By: "release-bot[bot]", At: approvedAt}},
		{name: "email", a: promote.Approval{By: "jane.doe+ops@example.co.uk", At: approvedAt, Reason: "CAB-1234 approved\nsee ticket"}},
		{name: "empty", a: promote.Approval{At: approvedAt}, err: "approval.by is empty"},
		{name: "spaces", a: promote.Approval{By: "jane doe", At: approvedAt}, err: "neither a GitHub login"},
		{name: "leading hyphen", a: promote.Approval{By: "-jane", At: approvedAt}, err: "neither a GitHub login"},
		{name: "double hyphen", a: promote.Approval{By: "ja--ne", At: approvedAt}, err: "neither a GitHub login"},
		{name: "too long login", a: promote.Approval{By: strings.Repeat("a", 40), At: approvedAt}, err: "neither a GitHub login"},
		{name: "markup", a: promote.Approval{By: "<script>", At: approvedAt}, err: "neither a GitHub login"},
		{name: "shell", a: promote.Approval{By: "$(id)", At: approvedAt}, err: "neither a GitHub login"},
		{name: "no time", a: promote.Approval{By: "octo-cat"}, err: "approval.at is not set"},
		{name: "control character", a: promote.Approval{By: "octo-cat", At: approvedAt, Reason: "ok\x1b[31m"}, err: "control character"},
		{name: "long reason", a: promote.Approval{By: "octo-cat", At: approvedAt, Reason: strings.Repeat("x", 1025)}, err: "at most 1024"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.a.Validate()
			if tc.err == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, promote.ErrInvalidApproval)
			assert.Contains(t, err.Error(), tc.err)
		})
	}
}

func TestRequireApproval(t *testing.T) {
	good := promote.Approval{By: "octo-cat", At: approvedAt}

	err := promote.RequireApproval(true, promote.Approval{})
	require.ErrorIs(t, err, promote.ErrApprovalRequired)
	assert.True(t, promote.IsRefusal(err))
	assert.Contains(t, err.Error(), "--approved-by")

	// A time alone (the pipeline stamps it) is no approval.
	require.ErrorIs(t, promote.RequireApproval(true, promote.Approval{At: approvedAt}), promote.ErrApprovalRequired)

	err = promote.RequireApproval(true, promote.Approval{By: "jane doe", At: approvedAt})
	require.ErrorIs(t, err, promote.ErrInvalidApproval)
	assert.True(t, promote.IsRefusal(err))
	assert.Contains(t, err.Error(), `"jane doe"`)

	assert.NoError(t, promote.RequireApproval(true, good))
	assert.NoError(t, promote.RequireApproval(false, promote.Approval{}), "environment needs no approval")
	assert.NoError(t, promote.RequireApproval(false, good))
	assert.ErrorIs(t, promote.RequireApproval(false, promote.Approval{By: "<b>", At: approvedAt}), promote.ErrInvalidApproval,
		"an approval that is given is recorded, so it must be valid")
}

// awsTagValue is AWS's documented tag pattern.
var awsTagValue = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

func TestTags(t *testing.T) {
	c := promote.Candidate{ImageRef: repo + "@" + digest41, Repository: repo, Digest: digest41, TaskDefinitionArn: td41, SourceEnv: "preprod"}
	a := promote.Approval{By: "octo-cat", At: time.Date(2026, 11, 25, 19, 30, 0, 0, time.FixedZone("CET", 3600)), Reason: "CAB-1234 | ok <b>`rm`</b>\nline two"}

	tags := promote.Tags(c, a)
	assert.Equal(t, map[string]string{
		promote.TagPromotedFrom:   "preprod",
		promote.TagSourceTaskDef:  "sample-app-preprod:41",
		promote.TagImageDigest:    digest41,
		promote.TagApprovedBy:     "octo-cat",
		promote.TagApprovedAt:     "2026-11-25T18:30:00Z",
		promote.TagApprovalReason: "CAB-1234 _ ok _b__rm__/b_ line two",
	}, tags)

	// Without approval (an environment that needs none) only the provenance is recorded.
	assert.Equal(t, []string{promote.TagImageDigest, promote.TagPromotedFrom, promote.TagSourceTaskDef}, sortedKeys(promote.Tags(c, promote.Approval{})))
}

func TestTagValuesAlwaysFitAWSConstraints(t *testing.T) {
	inputs := []string{
		"plain", "aws:reserved", "AWS:Reserved", "  spaced\t\tout \n", "émoji 🚀 ok", "日本語のテキスト", "pipe|angle<>amp&quote\"'",
		strings.Repeat("é", 300), strings.Repeat("x", 1000), "\x00\x01", "back`tick`", "$(id)", "a\u00a0b",
	}
	for _, in := range inputs {
		v := promote.SanitizeTagValue(in)
		assert.Truef(t, awsTagValue.MatchString(v), "value %q from %q", v, in)
		assert.LessOrEqual(t, utf8.RuneCountInString(v), 256)
		assert.False(t, strings.HasPrefix(strings.ToLower(v), "aws:"), v)
		assert.Equal(t, strings.TrimSpace(v), v)
		k := promote.SanitizeTagKey(in)
		assert.Truef(t, awsTagValue.MatchString(k), "key %q from %q", k, in)
		assert.LessOrEqual(t, utf8.RuneCountInString(k), 128)
	}
	assert.Equal(t, "émoji _ ok", promote.SanitizeTagValue("émoji 🚀 ok"), "letters of any script are kept")
	assert.Equal(t, "spaced out", promote.SanitizeTagValue("  spaced\t\tout \n"))
	assert.Equal(t, "_aws:reserved", promote.SanitizeTagValue("aws:reserved"))
	assert.Equal(t, 256, utf8.RuneCountInString(promote.SanitizeTagValue(strings.Repeat("é", 300))))
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
