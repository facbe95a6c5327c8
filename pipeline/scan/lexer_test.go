package scan

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidNumber(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"0", true},
		{"-0", true},
		{"42", true},
		{"-17", true},
		{"3.25", true},
		{"1e9", true},
		{"1E+9", true},
		{"2.5e-3", true},
		{"", false},
		{"-", false},
		{"01", false},
		{"1.", false},
		{".5", false},
		{"1e", false},
		{"1e+", false},
		{"1.e3", false},
		{"+1", false},
		{"1x", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, validNumber(tt.in))
		})
	}
}
