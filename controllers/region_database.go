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
	"time"

	"github.com/go-logr/logr"
	"github.com/jackc/pgx/v5"
	"sigs.k8s.io/controller-runtime/pkg/log"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/migrations"
	"github.com/rekomi/rekomi/pg/isolation"
	"github.com/rekomi/rekomi/pg/pgroles"
)

// dbTimeout bounds one pass of database work, so an unreachable server
// fails the pass instead of hanging it.
const dbTimeout = 2 * time.Minute

// reconcileDatabase provisions roles and database, migrates the schema as
// the owner, grants the runtime role, and verifies isolation, repairing what
// drifted. Each condition reports its own step.
func (r *RegionReconciler) reconcileDatabase(ctx context.Context, region *rekomiv1.Region, adminURL string, creds credentials, conds *conditionSet, flush func() error) error {
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	logger := log.FromContext(ctx)
	spec := pgroles.Spec{
		Database: region.Spec.Database.Name,
		Owner:    pgroles.Role{Name: region.Spec.Database.OwnerRole, Password: creds.owner},
		Runtime:  pgroles.Role{Name: region.Spec.Database.RuntimeRole, Password: creds.runtime},
	}

	maint, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		conds.set(rekomiv1.ConditionDatabaseReady, false, rekomiv1.ReasonDatabaseUnreachable, describeConnError(err))
		markUnchecked(conds, rekomiv1.ConditionRolesReady, rekomiv1.ConditionSchemaReady, rekomiv1.ConditionIsolationVerified)
		return fmt.Errorf("connecting to the admin database of region %s: %w", region.Name, err)
	}
	defer maint.Close(context.WithoutCancel(ctx))
	// The Region database may not exist yet; then it is connected to once
	// the roles and database are provisioned.
	admin, err := connectDatabase(ctx, adminURL, spec.Database)
	if err == nil {
		defer admin.Close(context.WithoutCancel(ctx))
		// Check before repairing, so that drift is reported, not silently undone.
		if err := r.reportDrift(ctx, admin, spec, conds, flush); err != nil {
			return err
		}
	}
	if _, err := pgroles.EnsureRoles(ctx, maint, spec, logger); err != nil {
		conds.set(rekomiv1.ConditionRolesReady, false, rekomiv1.ReasonProgressing, oneLine(err))
		return fmt.Errorf("provisioning roles of region %s: %w", region.Name, err)
	}
	conds.set(rekomiv1.ConditionRolesReady, true, rekomiv1.ReasonReconciled,
		fmt.Sprintf("roles %s (owner) and %s (runtime) match their Secrets", spec.Owner.Name, spec.Runtime.Name))

	if admin == nil {
		if admin, err = connectDatabase(ctx, adminURL, spec.Database); err != nil {
			conds.set(rekomiv1.ConditionDatabaseReady, false, rekomiv1.ReasonDatabaseUnreachable, describeConnError(err))
			markUnchecked(conds, rekomiv1.ConditionSchemaReady, rekomiv1.ConditionIsolationVerified)
			return fmt.Errorf("connecting to database %s of region %s: %w", spec.Database, region.Name, err)
		}
		defer admin.Close(context.WithoutCancel(ctx))
	}
	conds.set(rekomiv1.ConditionDatabaseReady, true, rekomiv1.ReasonReconciled, fmt.Sprintf("database %s is reachable", spec.Database))

	if err := r.migrate(ctx, region, admin, adminURL, spec, conds, logger); err != nil {
		return err
	}
	return r.verifyIsolation(ctx, region, admin, adminURL, spec, conds, logger)
}

// markUnchecked turns the conditions that depend on a database the pass
// could not reach to Unknown.
func markUnchecked(conds *conditionSet, types ...rekomiv1.ConditionType) {
	for _, t := range types {
		conds.unknown(t, rekomiv1.ReasonDependencyNotReady, "not checked: the database is unreachable")
	}
}

// migrate hands the schema to the owner, applies the migrations as the
// owner, then makes the runtime role's grants exact.
func (r *RegionReconciler) migrate(ctx context.Context, region *rekomiv1.Region, admin *pgx.Conn, adminURL string, spec pgroles.Spec, conds *conditionSet, logger logr.Logger) error {
	if _, err := pgroles.EnsureSchema(ctx, admin, spec, logger); err != nil {
		conds.set(rekomiv1.ConditionSchemaReady, false, rekomiv1.ReasonMigrationFailed, oneLine(err))
		return fmt.Errorf("preparing schema of region %s: %w", region.Name, err)
	}
	ownerURL, err := credentialData(adminURL, spec.Database, spec.Owner.Name, spec.Owner.Password)
	if err != nil {
		return err
	}
	m, err := migrations.Open(ctx, string(ownerURL[secretKeyURL]))
	if err != nil {
		conds.set(rekomiv1.ConditionSchemaReady, false, rekomiv1.ReasonMigrationFailed, oneLine(err))
		return fmt.Errorf("opening migrations of region %s: %w", region.Name, err)
	}
	defer m.Close()
	st, err := m.Up(ctx)
	if err != nil {
		conds.set(rekomiv1.ConditionSchemaReady, false, rekomiv1.ReasonMigrationFailed, oneLine(err))
		return fmt.Errorf("migrating region %s: %w", region.Name, err)
	}
	region.Status.SchemaVersion = int64(st.Version)
	if _, err := pgroles.EnsureTableGrants(ctx, admin, spec, migrations.RuntimeGrants(), logger); err != nil {
		conds.set(rekomiv1.ConditionSchemaReady, false, rekomiv1.ReasonMigrationFailed, oneLine(err))
		return fmt.Errorf("granting the runtime role of region %s: %w", region.Name, err)
	}
	conds.set(rekomiv1.ConditionSchemaReady, true, rekomiv1.ReasonReconciled, fmt.Sprintf("schema version %d", st.Version))
	return nil
}

// reportDrift verifies isolation of an already provisioned database before
// anything is repaired. Violations are reported at once (IsolationVerified
// False, a Warning event, the status written) so that drift is visible even
// when this pass repairs it.
func (r *RegionReconciler) reportDrift(ctx context.Context, admin *pgx.Conn, spec pgroles.Spec, conds *conditionSet, flush func() error) error {
	opts := isolationOptions(spec)
	// An operator older than the schema (rolled back, or a replica of the
	// previous release leading for a moment) does not take the tables a
	// newer release added for drift; it does not migrate or repair either.
	version, err := migrations.Recorded(ctx, admin)
	if err != nil {
		return nil // the steps after report what failed
	}
	latest, err := migrations.Latest()
	if err != nil {
		return err
	}
	opts.SchemaNewer = version > latest
	report, err := isolation.Verify(ctx, admin, opts)
	if err != nil || len(report.TenantTables) == 0 || report.OK() {
		return nil // nothing migrated yet, or nothing to report
	}
	conds.set(rekomiv1.ConditionIsolationVerified, false, rekomiv1.ReasonIsolationViolated, report.Summary())
	return flush()
}

// verifyIsolation checks the catalog after provisioning. Drift it can repair
// (row-level security switched off or unforced, a policy that is not the
// schema's, privileges granted to another role) is repaired, audited and
// checked again; the rest stays reported. The Region's database is then
// watched for drift from the state verified here.
func (r *RegionReconciler) verifyIsolation(ctx context.Context, region *rekomiv1.Region, admin *pgx.Conn, adminURL string, spec pgroles.Spec, conds *conditionSet, logger logr.Logger) error {
	opts := isolationOptions(spec)
	report, err := isolation.Verify(ctx, admin, opts)
	if err != nil {
		return fmt.Errorf("verifying isolation of region %s: %w", region.Name, err)
	}
	if !report.OK() {
		if err := r.applyRepairs(ctx, region, admin, spec.Owner.Name, planRepairs(report, opts.Policies), logger); err != nil {
			conds.set(rekomiv1.ConditionIsolationVerified, false, rekomiv1.ReasonIsolationViolated, report.Summary())
			return err
		}
	}
	notified, err := ensureDriftTrigger(ctx, admin)
	if err != nil {
		return fmt.Errorf("installing the drift trigger of region %s: %w", region.Name, err)
	}
	target := driftTarget{adminURL: adminURL, database: spec.Database, schema: isolation.DefaultSchema, runtimeRole: spec.Runtime.Name}
	report, fingerprint, err := verifySnapshot(ctx, admin, opts, target)
	if err != nil {
		return fmt.Errorf("verifying isolation of region %s: %w", region.Name, err)
	}
	region.Status.TenantTables = int32(len(report.TenantTables))
	if !report.OK() {
		// Not a state to keep: drift made between the repair and this
		// snapshot, or drift only a human can repair. The watch asks for a
		// reconcile at its next comparison.
		r.drift.accept(region.Name, target, "")
		conds.set(rekomiv1.ConditionIsolationVerified, false, rekomiv1.ReasonIsolationViolated, report.Summary())
		return nil
	}
	r.drift.accept(region.Name, target, fingerprint)
	conds.set(rekomiv1.ConditionIsolationVerified, true, rekomiv1.ReasonReconciled, report.Summary()+"; "+watchMode(notified, r.drift))
	return nil
}

// verifySnapshot verifies isolation and reads the catalog fingerprint from
// one snapshot, so that the fingerprint is that of the verified state.
func verifySnapshot(ctx context.Context, admin *pgx.Conn, opts isolation.Options, target driftTarget) (isolation.Report, string, error) {
	var report isolation.Report
	var fingerprint string
	err := pgx.BeginTxFunc(ctx, admin, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if report, err = isolation.Verify(ctx, tx, opts); err != nil {
			return err
		}
		fingerprint, err = catalogFingerprint(ctx, tx, target)
		return err
	})
	return report, fingerprint, err
}

// watchMode says how drift reaches the operator, for the condition message.
func watchMode(notified bool, d *driftWatch) string {
	if notified {
		return fmt.Sprintf("drift is noticed at once (event trigger) and role drift within %s", d.every())
	}
	return fmt.Sprintf("drift is noticed within %s (the admin role is not a superuser, so no event trigger)", d.every())
}

// isolationOptions are what the Region's catalog is checked against: the
// rules, and the exact policy set of the schema this binary migrates to.
func isolationOptions(spec pgroles.Spec) isolation.Options {
	return isolation.Options{RuntimeRole: spec.Runtime.Name, PublicLookupTables: migrations.PublicLookupTables(),
		Policies: migrations.Policies()}
}

func connectDatabase(ctx context.Context, adminURL, database string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(adminURL)
	if err != nil {
		return nil, fmt.Errorf("parsing admin URL: %w", err)
	}
	cfg.Database = database
	return pgx.ConnectConfig(ctx, cfg)
}

// describeConnError says in a line why a connection failed. pgx's message
// names the host and user, never the password.
func describeConnError(err error) string {
	return "cannot connect to the PostgreSQL server: " + oneLine(err)
}
