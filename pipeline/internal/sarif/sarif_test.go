package sarif

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLevel(t *testing.T) {
	tests := []struct {
		severity, want string
	}{
		{"CRITICAL", "error"},
		{"critical", "error"},
		{"HIGH", "error"},
		{"high", "error"},
		{"MEDIUM", "warning"},
		{"Medium", "warning"},
		{"LOW", "note"},
		{"low", "note"},
		{"UNKNOWN", "note"},
		{"", "note"},
		{"severity(9)", "note"},
	}
	for _, tt := range tests {
		t.Run(tt.severity, func(t *testing.T) {
			assert.Equal(t, tt.want, Level(tt.severity))
		})
	}
}
