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

package controllers

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-logr/logr"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/pg/isolation"
)

// actionIsolationRepaired is the audit action of a repair the operator made
// to a tenant table.
const actionIsolationRepaired = "isolation.repaired"

// reasonIsolationRepaired is the reason of the Warning event of a repair.
const reasonIsolationRepaired = "IsolationRepaired"

// repair is one change that brings a tenant table back to the schema.
type repair struct {
	found  isolation.Violation
	sql    string // run as the table's owner role
	change string // what it does, for people
}

// planRepairs lists what the operator repairs on its own: row-level
// security switched off or unforced, a policy altered, missing or not the
// schema's, privileges granted to another role. The rest (role attributes,
// memberships, functions, views) is repaired by provisioning or needs a
// human, and stays reported.
func planRepairs(report isolation.Report, policies []isolation.Policy) []repair {
	byName := map[[2]string]isolation.Policy{}
	for _, p := range policies {
		byName[[2]string{p.Table, p.Name}] = p
	}
	var rs []repair
	for _, v := range report.Violations {
		table := pgx.Identifier{v.Table}.Sanitize()
		want, known := byName[[2]string{v.Table, v.Policy}]
		policy := pgx.Identifier{v.Policy}.Sanitize()
		switch {
		case v.Kind == isolation.RLSDisabled:
			rs = append(rs, repair{v, "ALTER TABLE " + table + " ENABLE ROW LEVEL SECURITY",
				"row level security enabled on table " + v.Table})
		case v.Kind == isolation.RLSNotForced:
			rs = append(rs, repair{v, "ALTER TABLE " + table + " FORCE ROW LEVEL SECURITY",
				"row level security forced on table " + v.Table})
		case v.Kind == isolation.PolicyUnexpected:
			rs = append(rs, repair{v, "DROP POLICY " + policy + " ON " + table,
				fmt.Sprintf("policy %s dropped from table %s", v.Policy, v.Table)})
		case v.Kind == isolation.PolicyAltered && known:
			rs = append(rs, repair{v, "DROP POLICY " + policy + " ON " + table + "; " + createPolicySQL(want),
				fmt.Sprintf("policy %s on table %s recreated", v.Policy, v.Table)})
		case v.Kind == isolation.PolicyMissing && known:
			rs = append(rs, repair{v, createPolicySQL(want),
				fmt.Sprintf("policy %s on table %s created", v.Policy, v.Table)})
		case v.Kind == isolation.GrantedToOtherRole && v.Grantee != "":
			rs = append(rs, repair{v, "REVOKE ALL ON TABLE " + table + " FROM " + granteeSQL(v.Grantee) + " CASCADE",
				fmt.Sprintf("every privilege on table %s revoked from %s", v.Table, v.Grantee)})
		}
	}
	return rs
}

// createPolicySQL writes the statement that creates p.
func createPolicySQL(p isolation.Policy) string {
	var b strings.Builder
	kind := "PERMISSIVE"
	if !p.Permissive {
		kind = "RESTRICTIVE"
	}
	roles := make([]string, len(p.Roles))
	for i, r := range p.Roles {
		roles[i] = granteeSQL(r)
	}
	fmt.Fprintf(&b, "CREATE POLICY %s ON %s AS %s FOR %s TO %s", pgx.Identifier{p.Name}.Sanitize(),
		pgx.Identifier{p.Table}.Sanitize(), kind, p.Command, strings.Join(roles, ", "))
	if p.Using != "" {
		fmt.Fprintf(&b, " USING (%s)", p.Using)
	}
	if p.WithCheck != "" {
		fmt.Fprintf(&b, " WITH CHECK (%s)", p.WithCheck)
	}
	return b.String()
}

// granteeSQL writes a role name, or the PUBLIC keyword.
func granteeSQL(role string) string {
	if strings.EqualFold(role, "public") {
		return "PUBLIC"
	}
	return pgx.Identifier{role}.Sanitize()
}

// applyRepairs makes each repair in a transaction of its own, as the owner
// role, together with an audit entry of actor operator in the log of every
// organization of the Region, then reports it with a Warning event.
func (r *RegionReconciler) applyRepairs(ctx context.Context, region *rekomiv1.Region, admin *pgx.Conn, owner string, repairs []repair, logger logr.Logger) error {
	if len(repairs) == 0 {
		return nil
	}
	orgs, err := r.organizationIDs(ctx, region.Name)
	if err != nil {
		return err
	}
	for _, rp := range repairs {
		logger.Info("Repairing tenant isolation", "change", rp.change, "found", rp.found.Detail)
		err := pgx.BeginFunc(ctx, admin, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+pgx.Identifier{owner}.Sanitize()+"; "+rp.sql); err != nil {
				return err
			}
			return auditRepair(ctx, tx, orgs, rp)
		})
		if err != nil {
			return fmt.Errorf("repairing tenant isolation of region %s (%s): %w", region.Name, rp.change, err)
		}
		r.Recorder.Eventf(region, nil, corev1.EventTypeWarning, reasonIsolationRepaired, "Repair", "%s; found: %s", rp.change, rp.found.Detail)
	}
	return nil
}

// auditRepair appends rp to the audit log of each organization in orgs
// that the database holds.
func auditRepair(ctx context.Context, tx pgx.Tx, orgs []uuid.UUID, rp repair) error {
	metadata := map[string]any{"change": rp.change, "kind": string(rp.found.Kind), "found": rp.found.Detail}
	if rp.found.Policy != "" {
		metadata["policy"] = rp.found.Policy
	}
	if rp.found.Grantee != "" {
		metadata["grantee"] = rp.found.Grantee
	}
	for _, id := range orgs {
		if _, err := tx.Exec(ctx, "SELECT set_config('rekomi.org_id', $1, true)", id.String()); err != nil {
			return fmt.Errorf("naming organization %s: %w", id, err)
		}
		var exists bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT FROM organizations WHERE id = $1)", id).Scan(&exists); err != nil {
			return fmt.Errorf("finding organization %s: %w", id, err)
		}
		if !exists {
			continue
		}
		if _, err := audit.Append(ctx, tx, id, operatorEntry(actionIsolationRepaired, "table", rp.found.Table, metadata)); err != nil {
			return err
		}
	}
	return nil
}

// organizationIDs lists the ids of the Region's Organizations.
func (r *RegionReconciler) organizationIDs(ctx context.Context, region string) ([]uuid.UUID, error) {
	var list rekomiv1.OrganizationList
	if err := r.Client.List(ctx, &list, client.MatchingFields{organizationRegionIndex: region}); err != nil {
		return nil, fmt.Errorf("listing the organizations of region %s: %w", region, err)
	}
	var ids []uuid.UUID
	for _, o := range list.Items {
		if id, err := uuid.Parse(o.Status.ID); err == nil {
			ids = append(ids, id)
		}
	}
	return ids, nil
}
