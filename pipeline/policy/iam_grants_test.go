package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGrantsActionOn(t *testing.T) {
	const (
		secret = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:web/db-AbCdEf"
		bucket = "arn:aws:s3:::web-assets"
	)
	allow := func(actions []string, resources ...string) Statement {
		return Statement{Effect: "Allow", Action: actions, Resource: resources}
	}
	deny := func(actions []string, resources ...string) Statement {
		return Statement{Effect: "Deny", Action: actions, Resource: resources}
	}
	get := []string{"secretsmanager:GetSecretValue"}
	tests := []struct {
		name             string
		stmts            []Statement
		action, resource string
		want             bool
	}{
		{"exact action and resource", []Statement{allow(get, secret)}, "secretsmanager:GetSecretValue", secret, true},
		{"another action", []Statement{allow(get, secret)}, "secretsmanager:PutSecretValue", secret, false},
		{"another resource", []Statement{allow(get, secret)}, "secretsmanager:GetSecretValue", secret + "x", false},
		{"actions in any case", []Statement{allow([]string{"SecretsManager:getSecretValue"}, secret)}, "secretsmanager:GETSECRETVALUE", secret, true},
		{"resources in their case", []Statement{allow(get, "arn:aws:secretsmanager:eu-west-1:111122223333:secret:WEB/db-AbCdEf")}, "secretsmanager:GetSecretValue", secret, false},
		{"* action", []Statement{allow([]string{"*"}, "*")}, "iam:PassRole", "arn:aws:iam::111122223333:role/x", true},
		{"service wildcard action", []Statement{allow([]string{"secretsmanager:Get*"}, secret)}, "secretsmanager:GetSecretValue", secret, true},
		{"? action matches one character", []Statement{allow([]string{"ssm:GetParameter?"}, "*")}, "ssm:GetParameters", "arn:aws:ssm:eu-west-1:1:parameter/x", true},
		{"? action needs that character", []Statement{allow([]string{"ssm:GetParameter?"}, "*")}, "ssm:GetParameter", "arn:aws:ssm:eu-west-1:1:parameter/x", false},
		{"* resource across segments", []Statement{allow(get, "arn:aws:secretsmanager:*:111122223333:secret:web/*")}, "secretsmanager:GetSecretValue", secret, true},
		{"?????? takes the six-character suffix", []Statement{allow(get, "arn:aws:secretsmanager:eu-west-1:111122223333:secret:web/db-??????")}, "secretsmanager:GetSecretValue", secret, true},
		{"?????? takes no seventh character", []Statement{allow(get, "arn:aws:secretsmanager:eu-west-1:111122223333:secret:web/db-??????")}, "secretsmanager:GetSecretValue", secret + "G", false},
		{"?????? needs all six", []Statement{allow(get, "arn:aws:secretsmanager:eu-west-1:111122223333:secret:web/db-??????")}, "secretsmanager:GetSecretValue", "arn:aws:secretsmanager:eu-west-1:111122223333:secret:web/db-AbCdE", false},
		{"one of several actions and resources", []Statement{allow([]string{"s3:PutObject", "s3:GetObject"}, bucket, bucket+"/*")}, "s3:GetObject", bucket + "/css/site.css", true},
		{"a later statement grants", []Statement{allow([]string{"s3:PutObject"}, bucket), allow([]string{"s3:GetObject"}, bucket)}, "s3:GetObject", bucket, true},
		{"NotAction grants everything else", []Statement{{Effect: "Allow", NotAction: []string{"iam:*"}, Resource: []string{"*"}}}, "s3:GetObject", bucket, true},
		{"NotAction grants not what it lists, in any case", []Statement{{Effect: "Allow", NotAction: []string{"IAM:*"}, Resource: []string{"*"}}}, "iam:PassRole", "arn:aws:iam::1:role/x", false},
		{"NotResource grants everywhere else", []Statement{{Effect: "Allow", Action: []string{"s3:GetObject"}, NotResource: []string{bucket + "/private/*"}}}, "s3:GetObject", bucket + "/public/a", true},
		{"NotResource grants not where it lists", []Statement{{Effect: "Allow", Action: []string{"s3:GetObject"}, NotResource: []string{bucket + "/private/*"}}}, "s3:GetObject", bucket + "/private/a", false},
		{"explicit Deny wins over an earlier Allow", []Statement{allow([]string{"s3:*"}, "*"), deny([]string{"s3:DeleteObject"}, bucket+"/*")}, "s3:DeleteObject", bucket + "/a", false},
		{"explicit Deny wins over a later Allow", []Statement{deny([]string{"s3:DeleteObject"}, bucket+"/*"), allow([]string{"s3:*"}, "*")}, "s3:DeleteObject", bucket + "/a", false},
		{"a Deny elsewhere leaves the Allow", []Statement{allow([]string{"s3:*"}, "*"), deny([]string{"s3:DeleteObject"}, bucket+"/*")}, "s3:GetObject", bucket + "/a", true},
		{"a Deny with NotResource denies everywhere else", []Statement{allow([]string{"s3:*"}, "*"), {Effect: "Deny", Action: []string{"s3:*"}, NotResource: []string{bucket + "/*"}}}, "s3:GetObject", "arn:aws:s3:::other/a", false},
		{"a Deny with NotAction denies every other action", []Statement{allow([]string{"*"}, "*"), {Effect: "Deny", NotAction: []string{"s3:Get*"}, Resource: []string{"*"}}}, "s3:PutObject", bucket, false},
		{"a Deny alone grants nothing", []Statement{deny([]string{"*"}, "*")}, "s3:GetObject", bucket, false},
		{"no statements grant nothing", nil, "s3:GetObject", bucket, false},
		{"a statement without resource (a trust policy's) grants nothing", []Statement{{Effect: "Allow", Action: []string{"sts:AssumeRole"}, Principal: &Principal{Any: true}}}, "sts:AssumeRole", "arn:aws:iam::1:role/x", false},
		{"a Condition is taken as held", []Statement{{Effect: "Allow", Action: get, Resource: []string{secret}, Condition: Condition{"StringEquals": {"aws:SourceVpce": {"vpce-1"}}}}}, "secretsmanager:GetSecretValue", secret, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, GrantsActionOn(tt.stmts, tt.action, tt.resource))
		})
	}
}

// A parsed policy file is checked like the statements it holds: a single Action and Resource
// string, and lists.
func TestGrantsActionOnParsedDocument(t *testing.T) {
	doc, err := ParsePolicyDocument([]byte(`{"Version": "2012-10-17", "Statement": [
	  {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "arn:aws:logs:eu-west-1:1:log-group:/ecs/web:*"},
	  {"Effect": "Allow", "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], "Resource": ["arn:aws:ecr:eu-west-1:1:repository/web"]},
	  {"Effect": "Deny", "Action": "ecr:*", "Resource": "arn:aws:ecr:eu-west-1:1:repository/web", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
	]}`))
	require.NoError(t, err)
	tests := []struct {
		action, resource string
		want             bool
	}{
		{"logs:PutLogEvents", "arn:aws:logs:eu-west-1:1:log-group:/ecs/web:log-stream:app/web/1", true},
		{"logs:PutLogEvents", "arn:aws:logs:eu-west-1:1:log-group:/ecs/other:log-stream:x", false},
		// The Deny's condition is not evaluated: it is taken to hold, so it wins.
		{"ecr:BatchGetImage", "arn:aws:ecr:eu-west-1:1:repository/web", false},
	}
	for _, tt := range tests {
		t.Run(tt.action+" on "+tt.resource, func(t *testing.T) {
			assert.Equal(t, tt.want, GrantsActionOn(doc.Statement, tt.action, tt.resource))
		})
	}
}

func TestIAMMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything:at/all", true},
		{"a*", "a", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{"**", "ab", true},
		{"*?", "", false},
		{"*?", "a", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"?", "é", true}, // a character, not a byte
		{"web-??????", "web-AbCdEf", true},
		{"web-*-??", "web-x-y-zz", true},
		{"Web", "web", false},
		{"a.c", "abc", false}, // no regular expressions
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.s, func(t *testing.T) {
			assert.Equal(t, tt.want, iamMatch(tt.pattern, tt.s))
		})
	}
}
