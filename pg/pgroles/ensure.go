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

package pgroles

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-logr/logr"
	"github.com/jackc/pgx/v5"
)

// EnsureRoles makes the owner and runtime roles and the Region's database
// match spec. admin is connected, as a superuser or a role with CREATEROLE
// and CREATEDB, to the maintenance database. It creates or repairs both
// roles with every attribute written out, sets their passwords when they
// differ, removes them from any role they were made members of, creates the
// database owned by the owner role when it is missing, and lets only the two
// roles connect to it.
//
// A non-superuser admin is made a member of the owner role, which PostgreSQL
// requires to give it the database. Drift only a superuser may repair (a role
// left SUPERUSER, REPLICATION or BYPASSRLS) fails with ErrSuperuserRequired.
// The Result lists what was changed; it is empty when nothing was needed.
func EnsureRoles(ctx context.Context, admin *pgx.Conn, spec Spec, log logr.Logger) (Result, error) {
	spec, err := spec.normalized()
	if err != nil {
		return Result{}, err
	}
	return ensure(ctx, admin, spec, log, func(checkPasswords bool) ([]Action, error) {
		facts, err := readProvisioning(ctx, admin, spec, checkPasswords, log)
		if err != nil {
			return nil, err
		}
		return planProvisioning(spec, facts)
	})
}

// EnsureSchema makes spec.Schema exist in spec.Database, owned by the owner
// role, usable by the runtime role, and closed to CREATE by anyone but its
// owner. admin is connected to spec.Database. Run it before migrations.
func EnsureSchema(ctx context.Context, admin *pgx.Conn, spec Spec, log logr.Logger) (Result, error) {
	spec, err := spec.normalized()
	if err != nil {
		return Result{}, err
	}
	if err := checkConnectedTo(ctx, admin, spec.Database); err != nil {
		return Result{}, err
	}
	return ensure(ctx, admin, spec, log, func(bool) ([]Action, error) {
		facts, err := readSchema(ctx, admin, spec)
		if err != nil {
			return nil, err
		}
		return planSchema(spec, facts), nil
	})
}

// EnsureTableGrants makes the runtime role's privileges on every table, view
// and foreign table of spec.Schema exactly those in grants, on the table or
// on one column (Column): missing ones are granted, any other (TRUNCATE,
// REFERENCES, TRIGGER, column privileges not listed, grant options)
// revoked, and a table absent from grants gets none. PUBLIC keeps no
// privilege on any of them. admin is connected to spec.Database; run it after
// migrations. A grants entry naming a missing table or column fails with
// ErrUnknownTable or ErrUnknownColumn before anything is changed.
func EnsureTableGrants(ctx context.Context, admin *pgx.Conn, spec Spec, grants map[string][]Privilege, log logr.Logger) (Result, error) {
	spec, err := spec.normalized()
	if err != nil {
		return Result{}, err
	}
	want, err := validateGrants(grants)
	if err != nil {
		return Result{}, err
	}
	if err := checkConnectedTo(ctx, admin, spec.Database); err != nil {
		return Result{}, err
	}
	return ensure(ctx, admin, spec, log, func(bool) ([]Action, error) {
		tables, err := readTables(ctx, admin, spec)
		if err != nil {
			return nil, err
		}
		return planTables(spec, want, tables)
	})
}

// ensure plans, applies, then plans again without checking passwords (which
// could only be checked by logging in once more): anything still planned is
// drift that the statements did not repair.
func ensure(ctx context.Context, conn *pgx.Conn, spec Spec, log logr.Logger,
	plan func(checkPasswords bool) ([]Action, error)) (Result, error) {
	actions, err := plan(true)
	if err != nil {
		return Result{}, err
	}
	done, err := apply(ctx, conn, spec, actions, log)
	res := Result{Actions: done}
	if err != nil || len(done) == 0 {
		return res, err
	}
	left, err := plan(false)
	if err != nil {
		return res, fmt.Errorf("checking the catalog after the changes: %w", err)
	}
	if len(left) > 0 {
		descs := make([]string, len(left))
		for i, a := range left {
			descs[i] = a.String()
		}
		return res, fmt.Errorf("%w: still needed: %s", ErrDriftRemains, strings.Join(descs, "; "))
	}
	return res, nil
}

// readProvisioning gathers what EnsureRoles decides from.
func readProvisioning(ctx context.Context, conn *pgx.Conn, spec Spec, checkPasswords bool, log logr.Logger) (provisionFacts, error) {
	var f provisionFacts
	var err error
	if f.Admin, err = readAdmin(ctx, conn, spec.Owner.Name); err != nil {
		return f, err
	}
	for _, r := range []struct {
		role  Role
		facts *roleFacts
	}{{spec.Owner, &f.Owner}, {spec.Runtime, &f.Runtime}} {
		if *r.facts, err = readRole(ctx, conn, r.role.Name); err != nil {
			return f, err
		}
		if checkPasswords && r.facts.Exists {
			if r.facts.Password, err = checkPassword(ctx, conn, f.Admin, r.role, log); err != nil {
				return f, err
			}
		}
	}
	f.Database, err = readDatabase(ctx, conn, spec)
	return f, err
}

// checkConnectedTo fails unless conn is connected to database.
func checkConnectedTo(ctx context.Context, conn *pgx.Conn, database string) error {
	var current string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&current); err != nil {
		return fmt.Errorf("reading the current database: %w", err)
	}
	if current != database {
		return fmt.Errorf("%w: the admin connection is to database %s, not %s", ErrInvalidSpec, current, database)
	}
	return nil
}
