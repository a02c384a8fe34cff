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

package clicks

import "github.com/prometheus/client_golang/prometheus"

// Reasons a click is counted as lost, the one label of
// rekomi_clicks_lost_total.
const (
	// reasonOverflow: the queue and the overflow buffer were both full.
	reasonOverflow = "overflow"
	// reasonClosed: the click came after Close.
	reasonClosed = "closed"
	// reasonRejected: the database refused the batch for good (a
	// reference or check violation, which a retry cannot cure).
	reasonRejected = "rejected"
	// reasonShutdown: Close's deadline passed before the click was stored.
	reasonShutdown = "shutdown"
)

// metrics are the batcher's Prometheus series.
type metrics struct {
	received      prometheus.Counter
	stored        prometheus.Counter
	bufferFull    prometheus.Counter
	lost          *prometheus.CounterVec
	flushFailures prometheus.Counter
	batchSize     prometheus.Histogram
	pending       prometheus.GaugeFunc
}

func newMetrics(reg prometheus.Registerer, pending func() float64) *metrics {
	m := &metrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rekomi_clicks_received_total", Help: "Clicks accepted for storage.",
		}),
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rekomi_clicks_stored_total", Help: "Clicks stored in the database.",
		}),
		bufferFull: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rekomi_clicks_buffer_full_total", Help: "Clicks that found the queue full and were kept in the overflow buffer.",
		}),
		lost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rekomi_clicks_lost_total", Help: "Clicks not stored, by reason: overflow, closed, rejected or shutdown.",
		}, []string{"reason"}),
		flushFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rekomi_clicks_flush_failures_total", Help: "Batches the database failed to store; their clicks are retried.",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "rekomi_clicks_batch_size", Help: "Clicks per stored batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 6),
		}),
	}
	for _, reason := range []string{reasonOverflow, reasonClosed, reasonRejected, reasonShutdown} {
		m.lost.WithLabelValues(reason)
	}
	m.pending = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "rekomi_clicks_pending", Help: "Clicks accepted and not yet stored.",
	}, pending)
	reg.MustRegister(m.received, m.stored, m.bufferFull, m.lost, m.flushFailures, m.batchSize, m.pending)
	return m
}
