package report

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestPhase(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		wantCode codes.Code
		wantLog  []string
	}{
		{name: "passed", wantCode: codes.Ok, wantLog: []string{"signature gate: started"}},
		{name: "failed", err: errors.New("no signature"), wantCode: codes.Error,
			wantLog: []string{"signature gate: started", "signature gate: failed: no signature"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
			ctx, root := tp.Tracer("test").Start(context.Background(), "deploy preprod")
			var out bytes.Buffer
			r := NewRecorder("preprod", &out, func() time.Time { return time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC) })

			_, end := r.Phase(ctx, "signature gate")
			end(tc.err)
			root.End()

			spans := rec.Ended()
			require.Len(t, spans, 2)
			phase := spans[0]
			assert.Equal(t, "signature gate", phase.Name())
			assert.Equal(t, root.SpanContext().SpanID(), phase.Parent().SpanID(), "nested under the span of ctx, on its provider")
			assert.Equal(t, tc.wantCode, phase.Status().Code)
			var lines []string
			for _, ev := range r.Timeline {
				lines = append(lines, ev.Message)
			}
			assert.Equal(t, tc.wantLog, lines)
			assert.Equal(t, len(tc.wantLog), bytes.Count(out.Bytes(), []byte("\n")), "each line printed too")
		})
	}
}
