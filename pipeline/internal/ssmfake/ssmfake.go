// Package ssmfake is a fake of the one SSM Parameter Store call the pipeline makes,
// DescribeParameters with a Name filter (metadata only: the fake holds no parameter values,
// so none can leak), in JSON 1.1 on a fakeaws server (signing name "ssm").
package ssmfake

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"dagger/fargate/pipeline/internal/fakeaws"
)

// Fake holds parameter names.
type Fake struct {
	mu      sync.Mutex
	account string
	region  string
	names   []string
}

// New registers DescribeParameters on srv; account and region appear in ARNs.
func New(srv *fakeaws.Server, account, region string) *Fake {
	f := &Fake{account: account, region: region}
	srv.HandleJSON("ssm", "DescribeParameters", f.describeParameters)
	return f
}

// Add stores parameters by name (/sample-app/preprod/api-token-previous).
func (f *Fake) Add(names ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.names = append(f.names, names...)
}

func (f *Fake) describeParameters(body []byte) (any, error) {
	var req struct {
		ParameterFilters []struct {
			Key    string   `json:"Key"`
			Option string   `json:"Option"`
			Values []string `json:"Values"`
		} `json:"ParameterFilters"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fakeaws.Errorf("ValidationException", "%v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	params := []map[string]any{}
	for _, n := range f.names {
		match := true
		for _, flt := range req.ParameterFilters {
			if flt.Key != "Name" {
				return nil, fakeaws.Errorf("InvalidFilterKey", "the fake filters by Name only")
			}
			if flt.Option != "" && flt.Option != "Equals" {
				return nil, fakeaws.Errorf("InvalidFilterOption", "the fake filters with Equals only")
			}
			match = match && slices.Contains(flt.Values, n)
		}
		if match {
			params = append(params, map[string]any{
				"Name": n, "Type": "SecureString", "Version": 1, "LastModifiedDate": 1767225600,
				"ARN": fmt.Sprintf("arn:aws:ssm:%s:%s:parameter/%s", f.region, f.account, strings.TrimPrefix(n, "/")),
			})
		}
	}
	return map[string]any{"Parameters": params}, nil
}
