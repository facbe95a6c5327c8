package sarif

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/findings"
)

func TestBuilder(t *testing.T) {
	b := NewBuilder("tool", "https://example.com/tool")
	i, added := b.AddRule(Rule{ID: "A", ShortDescription: Message{Text: "a"}})
	assert.Equal(t, 0, i)
	assert.True(t, added)
	i, added = b.AddRule(Rule{ID: "B", ShortDescription: Message{Text: "b"}})
	assert.Equal(t, 1, i)
	assert.True(t, added)
	i, added = b.AddRule(Rule{ID: "A", ShortDescription: Message{Text: "other"}})
	assert.Equal(t, 0, i)
	assert.False(t, added)
	assert.Equal(t, "a", b.Rule("A").ShortDescription.Text)
	assert.Nil(t, b.Rule("C"))

	require.NoError(t, b.AddResult(Result{RuleID: "B", RuleIndex: 7, Level: "note", Message: Message{Text: "m"}, Source: findings.SourceScan}))
	require.ErrorContains(t, b.AddResult(Result{RuleID: "C", Level: "note", Message: Message{Text: "m"}, Source: findings.SourceScan}), `rule "C": no such rule`)

	l := b.Log()
	assert.Equal(t, SchemaURI, l.Schema)
	assert.Equal(t, "2.1.0", l.Version)
	require.Len(t, l.Runs, 1)
	require.Len(t, l.Runs[0].Results, 1)
	assert.Equal(t, 1, l.Runs[0].Results[0].RuleIndex, "ruleIndex points at the rule, whatever the caller set")
	assert.Equal(t, []Location{}, l.Runs[0].Results[0].Locations)

	var buf bytes.Buffer
	require.NoError(t, Encode(&buf, l))
	assert.Contains(t, buf.String(), "\"ruleIndex\": 1")
	assert.Contains(t, buf.String(), "\"informationUri\": \"https://example.com/tool\"")
}

// Every result carries the check that found it in its property bag, next to the caller's own
// properties (which AddResult does not change), and a result without a source is refused.
func TestAddResultSource(t *testing.T) {
	tests := []struct {
		name    string
		source  findings.Source
		props   map[string]any
		want    map[string]any
		wantErr string
	}{
		{name: "policy", source: findings.SourcePolicy, want: map[string]any{SourceProperty: "policy"}},
		{name: "scan", source: findings.SourceScan, want: map[string]any{SourceProperty: "scan"}},
		{name: "iac", source: findings.SourceIaC, want: map[string]any{SourceProperty: "iac"}},
		{name: "audit", source: findings.SourceAudit, want: map[string]any{SourceProperty: "audit"}},
		{name: "next to the caller's properties", source: findings.SourceAudit, props: map[string]any{"k": "v"},
			want: map[string]any{"k": "v", SourceProperty: "audit"}},
		{name: "no source", wantErr: `sarif result for rule "R": no source`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBuilder("tool", "")
			b.AddRule(Rule{ID: "R", ShortDescription: Message{Text: "r"}})
			var callers map[string]any
			if tt.props != nil {
				callers = map[string]any{}
				for k, v := range tt.props {
					callers[k] = v
				}
			}
			err := b.AddResult(Result{RuleID: "R", Level: "note", Message: Message{Text: "m"}, Source: tt.source, Properties: callers})
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				assert.Empty(t, b.Results())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.props, callers, "the caller's map is not written to")

			var buf bytes.Buffer
			require.NoError(t, Encode(&buf, b.Log()))
			var doc struct {
				Runs []struct {
					Results []map[string]any `json:"results"`
				} `json:"runs"`
			}
			require.NoError(t, json.Unmarshal(buf.Bytes(), &doc))
			require.Len(t, doc.Runs[0].Results, 1)
			assert.Equal(t, tt.want, doc.Runs[0].Results[0]["properties"])
			assert.NotContains(t, doc.Runs[0].Results[0], "source", "the source is written once, in the property bag")
		})
	}
}

// Adding a run property keeps every result's source.
func TestWithRunPropertyKeepsTheSource(t *testing.T) {
	b := NewBuilder("tool", "")
	b.AddRule(Rule{ID: "R", ShortDescription: Message{Text: "r"}})
	require.NoError(t, b.AddResult(Result{RuleID: "R", Level: "note", Message: Message{Text: "m"}, Source: findings.SourceIaC}))
	var buf bytes.Buffer
	require.NoError(t, Encode(&buf, b.Log()))
	out, err := WithRunProperty(buf.Bytes(), "gate", map[string]any{"passed": true})
	require.NoError(t, err)
	var l Log
	require.NoError(t, json.Unmarshal(out, &l))
	assert.Equal(t, map[string]any{"passed": true}, l.Runs[0].Properties["gate"])
	assert.Equal(t, map[string]any{SourceProperty: "iac"}, l.Runs[0].Results[0].Properties)
}

func TestLines(t *testing.T) {
	assert.Equal(t, &Region{StartLine: 1, EndLine: 1}, Lines(0, 0))
	assert.Equal(t, &Region{StartLine: 3, EndLine: 3}, Lines(3, 1))
	assert.Equal(t, &Region{StartLine: 3, EndLine: 5}, Lines(3, 5))
}
