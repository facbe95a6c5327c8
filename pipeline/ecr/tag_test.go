package ecr_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"dagger/fargate/pipeline/ecr"
)

func TestImageTag(t *testing.T) {
	now := time.Date(2026, 11, 25, 19, 8, 6, 0, time.FixedZone("CET", 3600))
	tests := []struct{ revision, want string }{
		{"4f1c2b7e9d0a", "4f1c2b7e9d0a"},
		{"refs/heads/main", "refs-heads-main"},
		{"v1.2.3+build.7", "v1.2.3-build.7"},
		{"dev", "dev-20261125T180806Z"},
		{"", "dev-20261125T180806Z"},
		{"///", "dev-20261125T180806Z"},
		{strings.Repeat("a", 200), strings.Repeat("a", 128)},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, ecr.ImageTag(tt.revision, now), tt.revision)
	}
}
