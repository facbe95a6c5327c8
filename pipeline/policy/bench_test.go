package policy

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// BenchmarkCheck1000TaskDefinitions measures Check over 1,000 task definition files (JSON
// decoding included), half hardened and half not. Target: well under 1 s per operation.
func BenchmarkCheck1000TaskDefinitions(b *testing.B) {
	good := string(readTestdata(b, "hardened.taskdef.json"))
	bad := string(readTestdata(b, "unhardened.taskdef.json"))
	in := CheckInput{RequiredTags: []string{"env", "owner"}}
	for i := 0; i < 1000; i++ {
		src := good
		if i%2 == 1 {
			src = bad
		}
		src = strings.Replace(src, `"family": "`, fmt.Sprintf(`"family": "f%d-`, i), 1)
		in.TaskDefinitions = append(in.TaskDefinitions, TaskDefinitionInput{Path: fmt.Sprintf("td/%d.json", i), Content: []byte(src)})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r, err := Check(context.Background(), in)
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Findings) == 0 {
			b.Fatal("expected findings")
		}
	}
}
