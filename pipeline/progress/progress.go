// Package progress shows a deploy's steps, gates and waits as OpenTelemetry spans, so that
// they appear in the Dagger TUI and in traces as Dagger's own steps do. Inside a Dagger
// module the Go SDK's runtime installs the global tracer provider (otel.SetTracerProvider)
// and the context a module function receives carries the function call's span: a span
// started from that context nests under the call. The package uses no Dagger types; its
// only state is the tracer it is given (by default the global provider's, which otel holds).
package progress

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// InstrumentationName names the tracer the spans come from.
const InstrumentationName = "fargate"

// Tracer opens spans. The zero value and a nil *Tracer use the global tracer provider.
type Tracer struct {
	tracer trace.Tracer
}

// New returns a Tracer on tp; nil takes otel.GetTracerProvider(), which forwards to the
// provider installed later (the module runtime installs it before a function runs).
func New(tp trace.TracerProvider) *Tracer {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return &Tracer{tracer: tp.Tracer(InstrumentationName)}
}

// FromContext returns a Tracer on the provider of ctx's span when that span records (a
// phase's spans then go where its parent's go: the same provider in tests), else on the
// global provider. Inside a Dagger module a function's context carries the caller's span
// as a remote, non-recording span: the global provider the runtime installed is used.
func FromContext(ctx context.Context) *Tracer {
	if s := trace.SpanFromContext(ctx); s.IsRecording() {
		return New(s.TracerProvider())
	}
	return New(nil)
}

// Span starts a span named name, a child of ctx's span, and returns the context that
// carries it (pass it on so that inner spans nest) and the function that ends it: with a
// nil error the span is OK; otherwise it records the error and has an error status with the
// error's message, which the TUI shows as a failed step. Calling end twice ends the span
// once.
func (t *Tracer) Span(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, func(error)) {
	tr := t.get()
	ctx, span := tr.Start(ctx, name, trace.WithAttributes(attrs...))
	ended := false
	return ctx, func(err error) {
		if ended {
			return
		}
		ended = true
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		} else {
			span.SetStatus(codes.Ok, "")
		}
		span.End()
	}
}

// Mark records a named event on ctx's span (a gate bypassed by break glass, say), which the
// trace keeps with the step it happened in. It does nothing when ctx carries no recording
// span.
func Mark(ctx context.Context, name string, attrs ...attribute.KeyValue) {
	trace.SpanFromContext(ctx).AddEvent(name, trace.WithAttributes(attrs...))
}

func (t *Tracer) get() trace.Tracer {
	if t == nil || t.tracer == nil {
		return otel.GetTracerProvider().Tracer(InstrumentationName)
	}
	return t.tracer
}
