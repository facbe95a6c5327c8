package infra

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"dagger/fargate/pipeline/internal/cfnfake"
	"dagger/fargate/pipeline/internal/fakeaws"
)

// BenchmarkApplyCreate measures one full create (validate, describe, change set, poll,
// execute, poll) against the local fake with the real template; sleeps are skipped.
func BenchmarkApplyCreate(b *testing.B) {
	body, err := os.ReadFile(serviceTemplate)
	if err != nil {
		b.Fatal(err)
	}
	srv := fakeaws.New(b)
	cfnfake.New(srv)
	cfg := srv.Config(b)
	params := map[string]string{
		"Environment": "preprod", "CertificateArn": "arn:aws:acm:eu-west-1:111122223333:certificate/x",
		"ContainerImage": "img", "DesiredCount": "0", "GitHubOrg": "example", "GitHubRepo": "fargate",
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		_, err := Apply(context.Background(), cfg, Options{
			StackName: "bench-" + strconv.Itoa(i), TemplateBody: string(body), Parameters: params,
			Sleep: func(context.Context, time.Duration) error { return nil },
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTemplateChecks measures CheckTemplateInput on the real template: resolving the
// parameters, parsing it with goformation and running every FG-CFN check.
func BenchmarkTemplateChecks(b *testing.B) {
	body, err := os.ReadFile(serviceTemplate)
	if err != nil {
		b.Fatal(err)
	}
	in := TemplateInput{Path: "infra/service.yaml", Body: body, Params: envParams("prod", nil), Env: "prod", Production: true,
		HealthPath: "/healthz", RequiredTags: testRequiredTags}
	for b.Loop() {
		fs, err := CheckTemplateInput(in)
		if err != nil {
			b.Fatal(err)
		}
		if len(fs) > 0 {
			b.Fatal("template fails a check")
		}
	}
}
