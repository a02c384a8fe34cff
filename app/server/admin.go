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
	"net/http"
	"net/netip"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/rekomi/rekomi/app/server/admin"
)

// routeAdmin mounts the admin pages under /admin; each goes through the
// server's middleware, as every route does. Their requests count against
// the API keys' rate limits, and their CSV export is the API's.
func (s *Server) routeAdmin() {
	admin.New(admin.Deps{
		DB:             s.db,
		Sealer:         s.sealer,
		Ring:           s.ring,
		Log:            s.log,
		Now:            s.now,
		KeyLimits:      s.limits,
		PublicBaseURL:  s.cfg.PublicBaseURL,
		ClientIP:       func(r *http.Request) netip.Addr { return clientIP(r, s.cfg.TrustedProxies) },
		RequestID:      requestIDFrom,
		ExportAuditLog: s.exportAuditLog,
		CheckAudit:     s.checkAuditForAdmin,
		Location:       s.cfg.Location,
		GracePeriod:    s.cfg.RetentionGracePeriod,
	}).Register(s.route)
}

// checkAuditForAdmin verifies org's chain and compares it with its witness
// in the admin page's transaction, as GET /v1/audit-log/verify does.
func (s *Server) checkAuditForAdmin(ctx context.Context, tx pgx.Tx, org uuid.UUID) (admin.AuditCheck, error) {
	witness, state := s.readAuditWitness(ctx, org)
	v, wo, err := verifyWithWitness(ctx, tx, org, witness, state)
	if err != nil {
		return admin.AuditCheck{}, err
	}
	out := admin.AuditCheck{Verified: v.Verified, BrokenSeq: v.BrokenSeq, Witness: wo.State, CheckedAt: s.now().UTC()}
	if wo.Seq != nil {
		out.WitnessSeq, out.WitnessedAt = *wo.Seq, *wo.WitnessedAt
	}
	if wo.FirstDisagreeingSeq != nil {
		out.FirstDisagreeingSeq = *wo.FirstDisagreeingSeq
	}
	return out, nil
}
