package report

import (
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

func TestPhaseTimesTheStepAndOpensASpan(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		wantCode codes.Code
	}{
		{name: "passed", wantCode: codes.Ok},
		{name: "failed", err: errors.New("no signature"), wantCode: codes.Error},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
			ctx, root := tp.Tracer("test").Start(context.Background(), "deploy preprod")
			at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
			r := NewRecorder("preprod", nil, func() time.Time { at = at.Add(time.Second); return at })

			inner, end := r.Phase(ctx, "sign + verify")
			_, child := tp.Tracer("test").Start(inner, "cosign verify")
			child.End()
			end(tc.err)
			end(errors.New("a second end is ignored"))
			root.End()

			spans := rec.Ended()
			require.Len(t, spans, 3)
			phase := spans[1]
			assert.Equal(t, "sign + verify", phase.Name())
			assert.Equal(t, root.SpanContext().SpanID(), phase.Parent().SpanID(), "nested under the span of ctx, on its provider")
			assert.Equal(t, phase.SpanContext().SpanID(), spans[0].Parent().SpanID(), "the step's own spans nest under it")
			assert.Equal(t, tc.wantCode, phase.Status().Code)
			require.Len(t, r.Phases, 1)
			assert.Equal(t, "sign + verify", r.Phases[0].Name)
			assert.Equal(t, time.Second, r.Phases[0].Duration, "timed once, by the first end")
			assert.Empty(t, r.Timeline, "the progress lines are the steps' own")
		})
	}
}
