package promote

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Approval records who approved a promotion, when, and optionally why.
type Approval struct {
	// By is the approver: a GitHub login (e.g. "octo-cat", "renovate[bot]") or an email address.
	By string
	// Reason is an optional free-text justification.
	Reason string
	// At is when the approval was given.
	At time.Time
}

const (
	maxReasonLen = 1024
	maxEmailLen  = 254
)

var (
	// GitHub logins: 1-39 alphanumerics or single hyphens, not starting or ending with a
	// hyphen; app accounts carry a "[bot]" suffix.
	githubLoginRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9]|-[A-Za-z0-9]){0,38}(?:\[bot\])?$`)
	emailRE       = regexp.MustCompile(`^[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)+$`)
)

// Validate checks the approval's fields: By is a GitHub login or an email address, At is set
// and Reason, when given, is printable text of at most 1024 characters.
func (a Approval) Validate() error {
	by := a.By
	switch {
	case strings.TrimSpace(by) == "":
		return fmt.Errorf("%w: approval.by is empty: name the approver (a GitHub login or an email address)", ErrInvalidApproval)
	case len(by) > maxEmailLen:
		return fmt.Errorf("%w: approval.by is %d bytes long: at most %d expected", ErrInvalidApproval, len(by), maxEmailLen)
	case !githubLoginRE.MatchString(by) && !emailRE.MatchString(by):
		return fmt.Errorf("%w: approval.by %q is neither a GitHub login (letters, digits, single hyphens, at most 39) nor an email address", ErrInvalidApproval, by)
	}
	if a.At.IsZero() {
		return fmt.Errorf("%w: approval.at is not set: the time of the approval is required", ErrInvalidApproval)
	}
	if !utf8.ValidString(a.Reason) {
		return fmt.Errorf("%w: approval.reason is not valid UTF-8", ErrInvalidApproval)
	}
	if n := utf8.RuneCountInString(a.Reason); n > maxReasonLen {
		return fmt.Errorf("%w: approval.reason is %d characters long: at most %d expected", ErrInvalidApproval, n, maxReasonLen)
	}
	for _, r := range a.Reason {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return fmt.Errorf("%w: approval.reason contains control character %U", ErrInvalidApproval, r)
		}
	}
	return nil
}

// RequireApproval enforces the environment's approval rule. When required is true the
// approval must be present and valid; when false an empty approval passes, and one that is
// given must still be valid (it is recorded on the task definition).
func RequireApproval(required bool, a Approval) error {
	if a == (Approval{}) || (strings.TrimSpace(a.By) == "" && a.Reason == "") {
		if required {
			return refuse(ErrApprovalRequired, "this environment needs a named approver (--approved-by): none was given")
		}
		return nil
	}
	if err := a.Validate(); err != nil {
		return &Refusal{Kind: ErrInvalidApproval, Detail: strings.TrimPrefix(err.Error(), ErrInvalidApproval.Error()+": ")}
	}
	return nil
}
