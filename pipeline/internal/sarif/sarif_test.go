package sarif

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

	require.NoError(t, b.AddResult(Result{RuleID: "B", RuleIndex: 7, Level: "note", Message: Message{Text: "m"}}))
	require.ErrorContains(t, b.AddResult(Result{RuleID: "C", Level: "note", Message: Message{Text: "m"}}), `rule "C": no such rule`)

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

func TestLines(t *testing.T) {
	assert.Equal(t, &Region{StartLine: 1, EndLine: 1}, Lines(0, 0))
	assert.Equal(t, &Region{StartLine: 3, EndLine: 3}, Lines(3, 1))
	assert.Equal(t, &Region{StartLine: 3, EndLine: 5}, Lines(3, 5))
}
