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

package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/trust"
)

// chainCheckInterval is how often every witnessed organization's audit
// chain is checked against its witness for /trust.
const chainCheckInterval = 10 * time.Minute

// chainCheck checks, in turn, the audit chain of every organization the
// operator witnesses: each must verify (audit.Verify) and agree with its
// signed witness (audit.CompareWitness), as GET /v1/audit-log/verify
// checks one. /trust states the latest outcome as counts; the failed
// organizations are logged, never published.
type chainCheck struct {
	s        *Server
	interval time.Duration
	last     atomic.Pointer[trust.AuditChains]
}

// run checks at once, then every interval, until ctx is done.
func (c *chainCheck) run(ctx context.Context) {
	tick := time.NewTicker(c.interval)
	defer tick.Stop()
	for {
		if out, err := c.s.checkAuditChains(ctx); err == nil {
			c.last.Store(&out)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// latest is the outcome of the latest finished check; one that finished
// more than two intervals and a minute ago says so, since a check that
// stopped finishing must not leave its last success standing.
func (c *chainCheck) latest() trust.AuditChains {
	l := c.last.Load()
	if l == nil {
		return c.unchecked()
	}
	out := *l
	if out.CheckedAt != nil && c.s.now().Sub(*out.CheckedAt) > 2*c.interval+time.Minute && out.Error == "" {
		out.Error = "no check has finished since " + out.CheckedAt.Format(time.RFC3339)
	}
	return out
}

// unchecked is the outcome before a check has finished.
func (c *chainCheck) unchecked() trust.AuditChains {
	return trust.AuditChains{Witnessed: c.s.cfg.AuditWitnessDir != "", IntervalSeconds: int(c.interval / time.Second)}
}

// chainCheckTimeout bounds the check of one organization's chain.
const chainCheckTimeout = 30 * time.Second

// checkAuditChains checks every organization that has a witness file. An
// error means no outcome: ctx ended.
func (s *Server) checkAuditChains(ctx context.Context) (trust.AuditChains, error) {
	out := s.chains.unchecked()
	if !out.Witnessed {
		return out, nil
	}
	finished := func() (trust.AuditChains, error) {
		at := s.now().UTC()
		out.CheckedAt = &at
		return out, nil
	}
	entries, err := os.ReadDir(s.cfg.AuditWitnessDir)
	if err != nil {
		s.log.Warn("Cannot list the audit witnesses", "error", err.Error())
		out.Error = "the operator's witnesses could not be read"
		return finished()
	}
	for _, e := range entries {
		org, err := uuid.Parse(e.Name())
		if err != nil || org.String() != e.Name() {
			continue // the kubelet's ..data and timestamped entries
		}
		departs, err := s.checkAuditChain(ctx, org)
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		switch {
		case errors.Is(err, errNoWitness):
			continue
		case departs != nil:
			out.Checked++
			out.Failed++
			s.log.Error("An organization's audit chain failed its check against the witness", "org_id", org.String(), "error", departs.Error())
		case err != nil:
			out.Unchecked++
			s.log.Warn("Cannot check an organization's audit chain against its witness", "org_id", org.String(), "error", err.Error())
		default:
			out.Checked++
		}
	}
	return finished()
}

// checkAuditChain checks org's chain against its witness: departs says how
// it breaks or departs from the witness; err that it could not be checked
// (errNoWitness when it has no witness yet).
func (s *Server) checkAuditChain(ctx context.Context, org uuid.UUID) (departs, err error) {
	w, err := s.loadAuditWitness(org)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, chainCheckTimeout)
	defer cancel()
	err = s.db.TenantTx(ctx, org, func(tx pgx.Tx) error {
		v, wo, err := verifyWithWitness(ctx, tx, org, w, "")
		switch {
		case err != nil:
			return err
		case v.BrokenSeq != 0:
			departs = fmt.Errorf("the chain breaks at seq %d: %s", v.BrokenSeq, v.Detail)
		case wo.State == witnessDisagrees:
			departs = fmt.Errorf("the chain departs from its witness from seq %d", *wo.FirstDisagreeingSeq)
		}
		return nil
	})
	return departs, err
}
