// Package imageuser decides whether an OCI image's configured user (the config's User
// field, or a container definition's user) runs its process as root. The rule follows
// Security Hub control ECS.20: an absent user, "root" or UID 0 — comparing only the part
// before ":" — is root.
package imageuser

import (
	"fmt"
	"strings"
)

// IsRoot reports whether user runs as root: "", "root", "0", "0:0", "root:root",
// "0:anything". Surrounding spaces are ignored. A numeric UID with leading zeros ("00") is
// still UID 0.
func IsRoot(user string) bool {
	name, _, _ := strings.Cut(strings.TrimSpace(user), ":")
	name = strings.TrimSpace(name)
	if name == "" || name == "root" {
		return true
	}
	return strings.Trim(name, "0") == "" // all zeros: UID 0
}

// CheckNonRoot returns an error naming the user when it runs as root, nil otherwise.
// what names the image or container in the message ("image app:1.2").
func CheckNonRoot(what, user string) error {
	if !IsRoot(user) {
		return nil
	}
	if strings.TrimSpace(user) == "" {
		return fmt.Errorf("%s runs as root: no user is configured (set USER to a non-root UID, e.g. USER 10001, in the Dockerfile)", what)
	}
	return fmt.Errorf("%s runs as root: user %q (UID 0/root before the ':'); set USER to a non-root UID, e.g. USER 10001", what, user)
}
