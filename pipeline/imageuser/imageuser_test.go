package imageuser

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIsRoot(t *testing.T) {
	cases := []struct {
		user string
		root bool
	}{
		{"", true},
		{"   ", true},
		{"root", true},
		{"0", true},
		{"00", true},
		{"0:0", true},
		{"root:root", true},
		{"0:1000", true},
		{"root:wheel", true},
		{":1000", true},
		{"1000", false},
		{"10001:10001", false},
		{"app", false},
		{"app:root", false},
		{"1000:0", false},
		{"nobody", false},
		{"rooty", false},
		{"100", false},
	}
	for _, tc := range cases {
		t.Run(tc.user, func(t *testing.T) {
			assert.Equal(t, tc.root, IsRoot(tc.user))
		})
	}
}

func TestCheckNonRoot(t *testing.T) {
	require.NoError(t, CheckNonRoot("image app:1", "10001"))

	err := CheckNonRoot("image app:1", "0:0")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `image app:1 runs as root: user "0:0"`)

	err = CheckNonRoot("image app:1", "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no user is configured")
}
