// Package clock holds the wall clock the pipeline's pollers share: a sleep that ends early,
// with the context's error, when its context is done, and Wall, the clock of a real run.
package clock

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx is done; then it returns ctx.Err().
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Wall is the wall clock: Now is time.Now, Sleep is Sleep.
type Wall struct{}

// Now is time.Now.
func (Wall) Now() time.Time { return time.Now() }

// Sleep waits d or until ctx is done.
func (Wall) Sleep(ctx context.Context, d time.Duration) error { return Sleep(ctx, d) }
