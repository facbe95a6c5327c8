// Package secretsfake is a fake of the one Secrets Manager call the pipeline makes,
// DescribeSecret (metadata only: the fake holds no secret values, so none can leak), in JSON
// 1.1 on a fakeaws server (signing name "secretsmanager"). A secret is found by its full ARN,
// its name, or its ARN without the six-character suffix, as Secrets Manager finds it.
package secretsfake

import (
	"encoding/json"
	"strings"
	"sync"

	"dagger/fargate/pipeline/internal/fakeaws"
)

// Fake holds secrets' ARNs.
type Fake struct {
	mu   sync.Mutex
	arns []string
}

// New registers DescribeSecret on srv.
func New(srv *fakeaws.Server) *Fake {
	f := &Fake{}
	srv.HandleJSON("secretsmanager", "DescribeSecret", f.describeSecret)
	return f
}

// Add stores secrets by full ARN (arn:aws:secretsmanager:region:account:secret:name-AbCdEf).
func (f *Fake) Add(arns ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.arns = append(f.arns, arns...)
}

// nameOf is the secret's name: the ARN's last part without the random suffix.
func nameOf(arn string) string {
	name := arn[strings.Index(arn, ":secret:")+len(":secret:"):]
	if i := strings.LastIndex(name, "-"); i >= 0 && len(name)-i == 7 {
		name = name[:i]
	}
	return name
}

func (f *Fake) describeSecret(body []byte) (any, error) {
	var req struct {
		SecretID string `json:"SecretId"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fakeaws.Errorf("InvalidParameterException", "%v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, arn := range f.arns {
		name := nameOf(arn)
		partial := arn[:strings.Index(arn, ":secret:")+len(":secret:")] + name
		if req.SecretID == arn || req.SecretID == name || req.SecretID == partial {
			return map[string]any{"ARN": arn, "Name": name, "LastChangedDate": 1767225600}, nil
		}
	}
	return nil, fakeaws.Errorf("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
}
