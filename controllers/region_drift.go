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
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/pg/isolation"
)

// DefaultDriftInterval is how often a Region's catalog is compared with
// what its last reconcile verified, when no notification came sooner.
const DefaultDriftInterval = 5 * time.Second

// driftApplicationName names the watch's connections in pg_stat_activity.
const driftApplicationName = "rekomi-drift-watch"

// driftChannel is the channel the Region database's event trigger notifies
// on every DDL command, and the drift watch listens on.
const driftChannel = "rekomi_drift"

// driftWatch notices, within seconds, that a Region's database no longer
// looks as its last reconcile left it, and asks for a reconcile: at once
// when the event trigger notifies a DDL command (RLS switched off, a policy
// or a grant changed), and every interval otherwise, which covers what
// event triggers do not see (role attributes and memberships, a disabled
// event trigger). It compares one fingerprint query over those catalogs
// with the fingerprint the reconcile recorded, so a notification that
// changed nothing costs one query.
type driftWatch struct {
	interval time.Duration
	events   chan event.GenericEvent

	mu      sync.Mutex
	ctx     context.Context // the manager's, once started
	watches map[string]*regionWatch
}

// regionWatch follows one Region's database.
type regionWatch struct {
	target   driftTarget
	cancel   context.CancelFunc
	mu       sync.Mutex
	accepted string // the fingerprint the last reconcile verified
}

// driftTarget is what a Region's watch connects to and compares.
type driftTarget struct {
	adminURL, database, schema, runtimeRole string
}

func newDriftWatch(interval time.Duration) *driftWatch {
	if interval <= 0 {
		interval = DefaultDriftInterval
	}
	return &driftWatch{interval: interval, events: make(chan event.GenericEvent, 64), watches: map[string]*regionWatch{}}
}

// Start runs until ctx is done; it follows the Regions accepted so far and
// those accepted later. It runs on the leader only (a manager.Runnable that
// does not say otherwise).
func (d *driftWatch) Start(ctx context.Context) error {
	d.mu.Lock()
	d.ctx = ctx
	for name, w := range d.watches {
		d.run(name, w)
	}
	d.mu.Unlock()
	<-ctx.Done()
	d.mu.Lock()
	defer d.mu.Unlock()
	for name, w := range d.watches {
		if w.cancel != nil {
			w.cancel()
		}
		delete(d.watches, name)
	}
	return nil
}

// every is the longest a drift waits to be noticed.
func (d *driftWatch) every() time.Duration {
	if d == nil {
		return DefaultDriftInterval
	}
	return d.interval
}

// accept records that region's database, as target reaches it, was
// verified with fingerprint, and follows it from now on (once started); an
// empty fingerprint matches none, so the next comparison asks for a
// reconcile. A nil watch (a reconciler run without its manager) follows
// nothing.
func (d *driftWatch) accept(region string, target driftTarget, fingerprint string) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	w, ok := d.watches[region]
	if ok && w.target != target {
		if w.cancel != nil {
			w.cancel()
		}
		ok = false
	}
	if !ok {
		w = &regionWatch{target: target}
		d.watches[region] = w
	}
	w.mu.Lock()
	w.accepted = fingerprint
	w.mu.Unlock()
	if w.cancel == nil && d.ctx != nil {
		d.run(region, w)
	}
}

// run starts following w; d.mu is held.
func (d *driftWatch) run(region string, w *regionWatch) {
	ctx, cancel := context.WithCancel(d.ctx)
	w.cancel = cancel
	go d.follow(ctx, region, w)
}

// forget stops following region, once it is deleted.
func (d *driftWatch) forget(region string) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if w, ok := d.watches[region]; ok {
		if w.cancel != nil {
			w.cancel()
		}
		delete(d.watches, region)
	}
}

// follow listens and compares until ctx is done, reconnecting after a
// failure; a connection that fails also asks for a reconcile, which
// reports the database's state.
func (d *driftWatch) follow(ctx context.Context, region string, w *regionWatch) {
	logger := log.FromContext(ctx).WithValues("region", region)
	for ctx.Err() == nil {
		err := d.listen(ctx, region, w)
		if ctx.Err() != nil {
			return
		}
		logger.Info("Drift watch interrupted; reconnecting", "error", oneLine(err))
		d.enqueue(ctx, region)
		select {
		case <-ctx.Done():
		case <-time.After(d.interval):
		}
	}
}

// listen holds one connection: LISTEN, then compare on every notification
// and at least every interval.
func (d *driftWatch) listen(ctx context.Context, region string, w *regionWatch) error {
	cfg, err := pgx.ParseConfig(w.target.adminURL)
	if err != nil {
		return fmt.Errorf("parsing admin URL: %w", err)
	}
	cfg.Database = w.target.database
	cfg.RuntimeParams["application_name"] = driftApplicationName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+driftChannel); err != nil {
		return fmt.Errorf("listening on %s: %w", driftChannel, err)
	}
	for {
		if err := d.compare(ctx, conn, region, w); err != nil {
			return err
		}
		// A notification, or the interval passed: compare either way. The
		// deadline interrupts the read without closing the connection.
		waitCtx, cancel := context.WithTimeout(ctx, d.interval)
		_, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && conn.IsClosed():
			return fmt.Errorf("waiting for notifications: %w", err)
		}
	}
}

// compare asks for a reconcile when the fingerprint moved.
func (d *driftWatch) compare(ctx context.Context, conn *pgx.Conn, region string, w *regionWatch) error {
	fp, err := catalogFingerprint(ctx, conn, w.target)
	if err != nil {
		return err
	}
	w.mu.Lock()
	moved := fp != w.accepted
	w.mu.Unlock()
	if moved {
		log.FromContext(ctx).Info("Catalog drift noticed; reconciling", "region", region)
		d.enqueue(ctx, region)
	}
	return nil
}

// enqueue asks the Region controller to reconcile region.
func (d *driftWatch) enqueue(ctx context.Context, region string) {
	select {
	case d.events <- event.GenericEvent{Object: &rekomiv1.Region{ObjectMeta: metav1.ObjectMeta{Name: region}}}:
	case <-ctx.Done():
	}
}

// fingerprintSQL hashes every catalog fact tenant isolation depends on:
// the runtime role's attributes and the roles it belongs to, the schema's
// relations (RLS flags, owner, privileges, options), column privileges,
// policies, functions, and the event triggers. $1 is the runtime role, $2
// the schema.
const fingerprintSQL = `
WITH RECURSIVE memberships(roleid) AS (
    SELECT m.roleid FROM pg_catalog.pg_auth_members m
    JOIN pg_catalog.pg_roles r ON r.oid = m.member WHERE r.rolname = $1
  UNION
    SELECT m.roleid FROM pg_catalog.pg_auth_members m JOIN memberships s ON m.member = s.roleid
)
SELECT md5(concat_ws('|',
  (SELECT string_agg(concat_ws(',', r.rolname, r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolcreatedb), ';' ORDER BY r.rolname)
     FROM pg_catalog.pg_roles r WHERE r.rolname = $1 OR r.oid IN (SELECT roleid FROM memberships)),
  (SELECT string_agg(concat_ws(',', c.oid, c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity, c.relowner,
                               c.relacl::text, c.reloptions::text), ';' ORDER BY c.oid)
     FROM pg_catalog.pg_class c
     WHERE c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $2) AND c.relkind IN ('r', 'p', 'v', 'm')),
  (SELECT string_agg(concat_ws(',', a.attrelid, a.attnum, a.attacl::text), ';' ORDER BY a.attrelid, a.attnum)
     FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
     WHERE c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $2) AND a.attacl IS NOT NULL),
  (SELECT string_agg(concat_ws(',', p.oid, p.polrelid, p.polname, p.polcmd, p.polpermissive, p.polroles::text,
                               pg_catalog.pg_get_expr(p.polqual, p.polrelid), pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid)), ';' ORDER BY p.oid)
     FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
     WHERE c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $2)),
  (SELECT string_agg(concat_ws(',', p.oid, p.proname, p.prosecdef, p.proowner, md5(p.prosrc), p.proacl::text), ';' ORDER BY p.oid)
     FROM pg_catalog.pg_proc p WHERE p.pronamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $2)),
  (SELECT string_agg(concat_ws(',', e.evtname, e.evtevent, e.evtenabled, e.evtfoid), ';' ORDER BY e.evtname)
     FROM pg_catalog.pg_event_trigger e)
))`

// catalogFingerprint reads the fingerprint through q.
func catalogFingerprint(ctx context.Context, q isolation.Querier, target driftTarget) (string, error) {
	var fp string
	if err := q.QueryRow(ctx, fingerprintSQL, target.runtimeRole, target.schema).Scan(&fp); err != nil {
		return "", fmt.Errorf("reading the catalog fingerprint: %w", err)
	}
	return fp, nil
}

// The event trigger that notifies driftChannel. Its function lives in a
// schema of its own, owned like the trigger by the (superuser) admin role,
// so that the database owner can neither replace nor disable it.
const (
	driftSchema   = "rekomi_guard"
	driftFunction = "notify_drift"
	driftTrigger  = "rekomi_drift"
	driftBody     = `BEGIN PERFORM pg_catalog.pg_notify('` + driftChannel + `', tg_tag); END`
)

// driftTriggerInstalledSQL is true when the trigger is in place as
// ensureDriftTrigger leaves it.
const driftTriggerInstalledSQL = `
SELECT EXISTS (
    SELECT FROM pg_catalog.pg_event_trigger e
    JOIN pg_catalog.pg_proc p ON p.oid = e.evtfoid
    JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
    WHERE e.evtname = $1 AND e.evtevent = 'ddl_command_end' AND e.evtenabled = 'A' AND e.evttags IS NULL
      AND e.evtowner = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)
      AND n.nspname = $2 AND n.nspowner = e.evtowner AND p.proname = $3 AND p.proowner = e.evtowner
      AND NOT p.prosecdef AND p.prosrc = $4)`

// ensureDriftTrigger installs, or puts back, the event trigger that
// notifies the drift watch of every DDL command in the Region database.
// Only a superuser may create event triggers: for another admin role it
// reports false, and drift is noticed by the watch's interval alone.
func ensureDriftTrigger(ctx context.Context, admin *pgx.Conn) (bool, error) {
	var superuser bool
	if err := admin.QueryRow(ctx, "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user").Scan(&superuser); err != nil {
		return false, fmt.Errorf("reading the admin role: %w", err)
	}
	if !superuser {
		return false, nil
	}
	var installed bool
	if err := admin.QueryRow(ctx, driftTriggerInstalledSQL, driftTrigger, driftSchema, driftFunction, driftBody).Scan(&installed); err != nil {
		return false, fmt.Errorf("reading the drift trigger: %w", err)
	}
	if installed {
		return true, nil
	}
	schema, function, trigger := pgx.Identifier{driftSchema}.Sanitize(), pgx.Identifier{driftSchema, driftFunction}.Sanitize(),
		pgx.Identifier{driftTrigger}.Sanitize()
	statements := []string{
		"CREATE SCHEMA IF NOT EXISTS " + schema,
		"ALTER SCHEMA " + schema + " OWNER TO CURRENT_USER",
		"DROP EVENT TRIGGER IF EXISTS " + trigger,
		"DROP FUNCTION IF EXISTS " + function + "()",
		"CREATE FUNCTION " + function + "() RETURNS event_trigger LANGUAGE plpgsql SECURITY INVOKER AS $rekomi$" + driftBody + "$rekomi$",
		"CREATE EVENT TRIGGER " + trigger + " ON ddl_command_end EXECUTE FUNCTION " + function + "()",
		"ALTER EVENT TRIGGER " + trigger + " ENABLE ALWAYS",
	}
	err := pgx.BeginFunc(ctx, admin, func(tx pgx.Tx) error {
		for _, stmt := range statements {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("%s: %w", stmt, err)
			}
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	return true, nil
}
