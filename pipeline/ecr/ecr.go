// Package ecr manages the Amazon ECR side of a deploy: registry credentials from
// GetAuthorizationToken (the password is a redacting Secret), repositories that meet the
// ECR controls (scan on push, immutable tags, KMS encryption, a lifecycle policy; drift
// on an existing repository is reported, never silently changed where ECR cannot change
// it), and tag checks that refuse to move an existing tag to another digest.
//
// Every AWS error is wrapped with what was being done; AccessDeniedException names the
// IAM action the pipeline's role lacks (e.g. ecr:CreateRepository).
package ecr

import (
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/smithy-go"
)

// Client wraps the ECR API client.
type Client struct {
	api *ecr.Client
}

// New returns a client for cfg (build cfg with awsconf.Load).
func New(cfg aws.Config) *Client {
	return &Client{api: ecr.NewFromConfig(cfg)}
}

// ErrAccessDenied is wrapped by errors for calls IAM refused.
var ErrAccessDenied = errors.New("access denied")

// explain wraps an AWS error of operation op with guidance for the errors people hit.
func explain(op string, err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "AccessDeniedException", "AccessDenied", "UnauthorizedOperation":
			return fmt.Errorf("%w: the pipeline's IAM role needs ecr:%s (AWS said: %s)", ErrAccessDenied, op, apiErr.ErrorMessage())
		case "KmsException":
			return fmt.Errorf("ECR could not use the KMS key (the role needs kms:DescribeKey and kms:CreateGrant on it, and the key policy must allow them; AWS said: %s): %w", apiErr.ErrorMessage(), err)
		}
	}
	return err
}

func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}
