/*
Copyright 2026 The Rekomi Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package clicks records the clicks on referral links. The redirect hands
// each click to a Batcher, which never makes it wait: clicks are buffered in
// memory, within fixed bounds, and written in batches, one tenant
// transaction and one INSERT per organization, retried with backoff while
// the database fails. The package also owns what is stored of a click (the
// IP truncated in EU Regions, the bot flag). It neither resolves links nor
// answers requests.
package clicks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rekomi/rekomi/app/db"
)

// Options tune a Batcher; a zero or negative field takes its default.
//
// Memory is bounded by QueueSize + MaxHeld + SpillSize clicks (about 500
// bytes each). A click goes to the queue; when the queue is full (the
// flusher is busy writing, or holds MaxHeld clicks because the database has
// been failing), it goes to the overflow buffer instead, counted in
// rekomi_clicks_buffer_full_total, and the flusher takes the overflow first
// once it has room. Only when the overflow buffer is full too is a click
// refused: Add returns false, rekomi_clicks_lost_total{reason="overflow"}
// counts it and a warning is logged. No click leaves without a metric.
type Options struct {
	// FlushInterval is the longest a click waits to be written (100 ms).
	FlushInterval time.Duration
	// BatchSize is the most clicks one statement writes, and the number of
	// waiting clicks that starts a write before the interval (1,000).
	BatchSize int
	// QueueSize is the capacity of the queue Add hands clicks to (10,000).
	QueueSize int
	// MaxHeld bounds the clicks the flusher has taken and not yet stored,
	// those waiting for a retry included (50,000).
	MaxHeld int
	// SpillSize bounds the overflow buffer (100,000).
	SpillSize int
	// MinBackoff is the wait before the first retry of a failed write; it
	// doubles with each further failure, up to MaxBackoff (100 ms, 10 s).
	MinBackoff, MaxBackoff time.Duration
	// WriteTimeout bounds the transaction of one batch (10 s).
	WriteTimeout time.Duration
	// TruncateIPs stores only the /24 (IPv4) or /48 (IPv6) network of each
	// client address, as EU Regions must.
	TruncateIPs bool
}

func (o Options) withDefaults() Options {
	orDuration := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	orInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	orDuration(&o.FlushInterval, 100*time.Millisecond)
	orDuration(&o.MinBackoff, 100*time.Millisecond)
	orDuration(&o.MaxBackoff, 10*time.Second)
	orDuration(&o.WriteTimeout, 10*time.Second)
	orInt(&o.BatchSize, 1000)
	orInt(&o.QueueSize, 10_000)
	orInt(&o.MaxHeld, 50_000)
	orInt(&o.SpillSize, 100_000)
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	return o
}

// Batcher buffers clicks and writes them in batches. Add may be called
// from any goroutine; Start runs the flusher, Close stops it once every
// click is stored or its deadline passes.
type Batcher struct {
	db   *db.DB
	log  *slog.Logger
	opts Options
	m    *metrics

	queue chan record
	// wake tells the flusher the overflow buffer has clicks.
	wake chan struct{}

	// gate orders Add against Close: Add holds it shared, so once Close has
	// held it, no Add is under way and none will queue a click.
	gate   sync.RWMutex
	closed bool

	spillMu sync.Mutex
	spill   []record

	// held is how many clicks the flusher holds, for the pending gauge.
	held atomic.Int64
	// overflowed counts clicks lost to overflow since the last warning.
	overflowed atomic.Int64

	started  sync.Once
	stopping chan struct{}
	// ctx is the flusher's; Close cancels it when its deadline passes.
	ctx   context.Context
	abort context.CancelFunc
	done  chan struct{}
	// unstored and lastErr are the flusher's outcome, set before done
	// closes.
	unstored int
	lastErr  error
}

// New returns a Batcher writing to database, with its metrics registered on
// reg. Nothing runs until Start.
func New(database *db.DB, log *slog.Logger, reg prometheus.Registerer, opts Options) *Batcher {
	opts = opts.withDefaults()
	ctx, abort := context.WithCancel(context.Background())
	b := &Batcher{db: database, log: log, opts: opts, queue: make(chan record, opts.QueueSize), wake: make(chan struct{}, 1),
		stopping: make(chan struct{}), ctx: ctx, abort: abort, done: make(chan struct{})}
	b.m = newMetrics(reg, b.pending)
	return b
}

// pending is how many accepted clicks are not stored yet.
func (b *Batcher) pending() float64 {
	b.spillMu.Lock()
	spilled := len(b.spill)
	b.spillMu.Unlock()
	return float64(len(b.queue) + spilled + int(b.held.Load()))
}

// Start runs the flusher; calling it again does nothing.
func (b *Batcher) Start() {
	b.started.Do(func() { go b.run() })
}

// Add takes a click for storage without waiting on the database or on the
// flusher. It returns false, and counts the click as lost, only when the
// Batcher is closed or both of its buffers are full.
func (b *Batcher) Add(c Click) bool {
	rec := newRecord(c, b.opts.TruncateIPs)
	b.gate.RLock()
	defer b.gate.RUnlock()
	if b.closed {
		b.m.lost.WithLabelValues(reasonClosed).Inc()
		return false
	}
	select {
	case b.queue <- rec:
		b.m.received.Inc()
		return true
	default:
		return b.addOverflow(rec)
	}
}

// addOverflow keeps a click that found the queue full.
func (b *Batcher) addOverflow(rec record) bool {
	b.m.bufferFull.Inc()
	b.spillMu.Lock()
	full := len(b.spill) >= b.opts.SpillSize
	if !full {
		b.spill = append(b.spill, rec)
	}
	b.spillMu.Unlock()
	if full {
		b.m.lost.WithLabelValues(reasonOverflow).Inc()
		b.overflowed.Add(1)
		return false
	}
	b.m.received.Inc()
	select {
	case b.wake <- struct{}{}:
	default:
	}
	return true
}

// Close stops taking clicks, writes every click it holds, and stops the
// flusher. When ctx ends first, the writes under way are abandoned and the
// error says how many clicks were not stored (also counted as lost, reason
// "shutdown"). Close may be called more than once, and without Start.
func (b *Batcher) Close(ctx context.Context) error {
	b.gate.Lock()
	first := !b.closed
	b.closed = true
	b.gate.Unlock()
	if first {
		b.Start()
		close(b.stopping)
	}
	select {
	case <-b.done:
	case <-ctx.Done():
		b.abort()
		<-b.done
	}
	b.abort()
	if b.unstored > 0 {
		return fmt.Errorf("%d clicks could not be stored before the shutdown deadline: %w", b.unstored, b.lastErr)
	}
	return nil
}

// run is the flusher: it takes clicks from the overflow buffer and the
// queue, and writes them every FlushInterval or as soon as BatchSize wait,
// unless a failed write is waiting for its retry.
func (b *Batcher) run() {
	defer close(b.done)
	tick := time.NewTicker(b.opts.FlushInterval)
	defer tick.Stop()
	var held []record
	var retry backoff
	for {
		queue := b.queue
		if len(held) >= b.opts.MaxHeld {
			queue = nil // leave the rest in the queue, then the overflow
		}
		due := false
		select {
		case rec := <-queue:
			held = append(held, rec)
		case <-b.wake:
		case <-tick.C:
			due = true
			b.warnOverflow()
		case <-b.stopping:
			b.finish(held)
			return
		}
		held = b.take(held, b.opts.MaxHeld)
		if (due || len(held) >= b.opts.BatchSize) && retry.ready(time.Now()) {
			var err error
			held, err = b.flush(b.ctx, held)
			b.retryAfter(&retry, err, len(held))
		}
		b.held.Store(int64(len(held)))
	}
}

// take moves clicks into held, the overflow buffer first, then the
// queue, until held has limit clicks or both are empty.
func (b *Batcher) take(held []record, limit int) []record {
	b.spillMu.Lock()
	n := min(len(b.spill), max(limit-len(held), 0))
	held = append(held, b.spill[:n]...)
	b.spill = append(b.spill[:0:0], b.spill[n:]...)
	b.spillMu.Unlock()
	for len(held) < limit {
		select {
		case rec := <-b.queue:
			held = append(held, rec)
		default:
			return held
		}
	}
	return held
}

// finish writes everything left, retrying with backoff, until it is all
// stored or Close's deadline has cancelled the flusher's context.
func (b *Batcher) finish(held []record) {
	var retry backoff
	for {
		held = b.take(held, int(^uint(0)>>1))
		b.held.Store(int64(len(held)))
		if len(held) == 0 {
			return
		}
		var err error
		if held, err = b.flush(b.ctx, held); err == nil {
			continue
		}
		b.retryAfter(&retry, err, len(held))
		select {
		case <-time.After(time.Until(retry.at)):
		case <-b.ctx.Done():
			b.unstored, b.lastErr = len(held), err
			b.m.lost.WithLabelValues(reasonShutdown).Add(float64(len(held)))
			b.held.Store(0)
			b.log.Error("Clicks lost at shutdown: the deadline passed before they could be stored",
				"clicks", len(held), "error", err.Error())
			return
		}
	}
}

// flush writes held in batches of one organization and at most BatchSize
// clicks, and returns the clicks still to be written: after the first batch
// the database failed to store, it stops and keeps that batch and the
// rest. A batch the database refuses for good is counted lost and skipped.
func (b *Batcher) flush(ctx context.Context, held []record) ([]record, error) {
	batches := groupByOrg(held, b.opts.BatchSize)
	for i, batch := range batches {
		err := b.write(ctx, batch)
		switch {
		case err == nil:
		case errors.Is(err, db.ErrReference) || errors.Is(err, db.ErrInvalid):
			b.m.lost.WithLabelValues(reasonRejected).Add(float64(len(batch)))
			b.log.Error("Clicks lost: the database refused them", "clicks", len(batch), "error", err.Error())
		default:
			var kept []record
			for _, rest := range batches[i:] {
				kept = append(kept, rest...)
			}
			return kept, err
		}
	}
	return nil, nil
}

// write stores one batch in its organization's transaction.
func (b *Batcher) write(ctx context.Context, batch []record) error {
	ctx, cancel := context.WithTimeout(ctx, b.opts.WriteTimeout)
	defer cancel()
	if err := insert(ctx, b.db, batch[0].orgID, batch); err != nil {
		b.m.flushFailures.Inc()
		return err
	}
	b.m.stored.Add(float64(len(batch)))
	b.m.batchSize.Observe(float64(len(batch)))
	return nil
}

// groupByOrg splits recs into batches of one organization each, of at most
// size clicks, keeping the order of arrival within an organization.
func groupByOrg(recs []record, size int) [][]record {
	var orgs []uuid.UUID
	byOrg := map[uuid.UUID][]record{}
	for _, r := range recs {
		if _, seen := byOrg[r.orgID]; !seen {
			orgs = append(orgs, r.orgID)
		}
		byOrg[r.orgID] = append(byOrg[r.orgID], r)
	}
	var batches [][]record
	for _, org := range orgs {
		recs := byOrg[org]
		for len(recs) > size {
			batches = append(batches, recs[:size:size])
			recs = recs[size:]
		}
		batches = append(batches, recs)
	}
	return batches
}

// retryAfter records the outcome of a flush: a failure schedules the
// retry and is logged, the first success after failures is logged too.
func (b *Batcher) retryAfter(retry *backoff, err error, pending int) {
	if err == nil {
		if retry.failures > 0 {
			b.log.Info("Storing clicks again after failures", "failures", retry.failures)
		}
		*retry = backoff{}
		return
	}
	wait := retry.fail(time.Now(), b.opts.MinBackoff, b.opts.MaxBackoff)
	b.log.Warn("Storing clicks failed; retrying", "clicks_waiting", pending, "retry_in", wait.String(),
		"failures", retry.failures, "error", err.Error())
}

// warnOverflow logs the clicks lost to overflow since the last warning.
func (b *Batcher) warnOverflow() {
	if n := b.overflowed.Swap(0); n > 0 {
		b.log.Warn("Clicks lost: the click buffers are full", "clicks", n,
			"queue", b.opts.QueueSize, "held", b.opts.MaxHeld, "overflow", b.opts.SpillSize)
	}
}

// backoff is the retry schedule of failed writes.
type backoff struct {
	failures int
	at       time.Time
}

func (r *backoff) ready(now time.Time) bool { return !now.Before(r.at) }

// fail counts a failure and schedules the next attempt: min doubled per
// failure up to max, with up to 20% jitter so that replicas do not retry
// in step; it returns the wait.
func (r *backoff) fail(now time.Time, lo, hi time.Duration) time.Duration {
	r.failures++
	wait := lo
	for i := 1; i < r.failures && wait < hi; i++ {
		wait *= 2
	}
	wait = min(wait, hi)
	wait -= time.Duration(rand.Int64N(int64(wait)/5 + 1))
	r.at = now.Add(wait)
	return wait
}
