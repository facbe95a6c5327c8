package progress

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestSpan(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		wantStatus codes.Code
		wantEvents int // the recorded error
	}{
		{name: "ok", wantStatus: codes.Ok},
		{name: "failed", err: fmt.Errorf("update service: %w", errors.New("access denied")), wantStatus: codes.Error, wantEvents: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			tr := New(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
			ctx, endOuter := tr.Span(context.Background(), "deploy", attribute.String("ecs.service", "sample-app"))
			_, endInner := tr.Span(ctx, "update service")
			endInner(tc.err)
			endInner(errors.New("ignored: the span has ended"))
			endOuter(tc.err)

			spans := rec.Ended()
			require.Len(t, spans, 2)
			inner, outer := spans[0], spans[1]
			assert.Equal(t, "update service", inner.Name())
			assert.Equal(t, "deploy", outer.Name())
			assert.Equal(t, outer.SpanContext().SpanID(), inner.Parent().SpanID(), "nested under the span of the context")
			assert.False(t, outer.Parent().IsValid(), "a root span")
			assert.Equal(t, InstrumentationName, inner.InstrumentationScope().Name)
			assert.Contains(t, outer.Attributes(), attribute.String("ecs.service", "sample-app"))
			for _, s := range spans {
				assert.Equal(t, tc.wantStatus, s.Status().Code)
				assert.Len(t, s.Events(), tc.wantEvents)
				if tc.err != nil {
					assert.Equal(t, tc.err.Error(), s.Status().Description)
				}
			}
		})
	}
}

func TestNilTracerUsesTheGlobalProvider(t *testing.T) {
	var tr *Tracer
	ctx, end := tr.Span(context.Background(), "noop")
	require.NotNil(t, ctx)
	end(nil) // the default global provider records nothing; it must not panic
	_, end = (&Tracer{}).Span(context.Background(), "noop")
	end(errors.New("x"))
}
