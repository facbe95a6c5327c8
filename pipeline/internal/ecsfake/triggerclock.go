package ecsfake

import (
	"context"
	"sync"
	"time"
)

// TriggerClock is a VirtualClock that does something once, the first time a Sleep ends at
// or after At: cancel the caller's context (a run cancelled mid-wait), or start another
// deployment (a concurrent deploy). Sleep returns the context's error after the trigger, so a
// cancellation is seen at once.
type TriggerClock struct {
	*VirtualClock
	At   time.Time
	Do   func()
	once sync.Once
}

// Sleep advances the virtual time by d, then fires the trigger when its time has come.
func (c *TriggerClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := c.VirtualClock.Sleep(ctx, d); err != nil {
		return err
	}
	if !c.Now().Before(c.At) && c.Do != nil {
		c.once.Do(c.Do)
	}
	return ctx.Err()
}
