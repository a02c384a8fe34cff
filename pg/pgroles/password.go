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
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// loginTimeout bounds the test login that checks a password when the stored
// verifier cannot be read.
const loginTimeout = 15 * time.Second

// checkPassword reports whether role's stored password is role.Password,
// without changing it: by recomputing the stored verifier when pg_authid is
// readable, otherwise by logging in as the role.
func checkPassword(ctx context.Context, conn *pgx.Conn, admin adminFacts, role Role, log logr.Logger) (passwordState, error) {
	if admin.ReadsAuthid {
		return checkStoredVerifier(ctx, conn, role)
	}
	return tryLogin(ctx, conn, role, log)
}

func checkStoredVerifier(ctx context.Context, conn *pgx.Conn, role Role) (passwordState, error) {
	var stored *string
	err := conn.QueryRow(ctx, `SELECT rolpassword FROM pg_catalog.pg_authid WHERE rolname = $1`, role.Name).Scan(&stored)
	if err != nil {
		return passwordUnknown, fmt.Errorf("reading the stored password of role %s: %w", role.Name, err)
	}
	if stored == nil {
		return passwordDiffers, nil
	}
	ok, err := verifierMatches(*stored, role.Password)
	switch {
	case errors.Is(err, errNotSCRAM):
		return passwordDiffers, nil // MD5 or plaintext: replaced by a SCRAM verifier.
	case err != nil:
		return passwordUnknown, fmt.Errorf("checking the stored password of role %s: %w", role.Name, err)
	case ok:
		return passwordMatches, nil
	default:
		return passwordDiffers, nil
	}
}

// tryLogin logs in as role with the admin connection's settings and reports
// a password that the server accepted as matching. Refusals that come after
// authentication (no CONNECT privilege, no such database) count as a match;
// any other failure leaves the answer unknown.
func tryLogin(ctx context.Context, conn *pgx.Conn, role Role, log logr.Logger) (passwordState, error) {
	cfg := conn.Config().Config
	cfg.User, cfg.Password = role.Name, role.Password
	cfg.RequireAuth = "scram-sha-256"
	cfg.OAuthTokenProvider = nil
	cfg.ValidateConnect, cfg.AfterConnect = nil, nil
	cfg.ConnectTimeout = loginTimeout
	loginCtx, cancel := context.WithTimeout(ctx, loginTimeout)
	defer cancel()
	pc, err := pgconn.ConnectConfig(loginCtx, &cfg)
	if err == nil {
		_ = pc.Close(loginCtx)
		return passwordMatches, nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01": // invalid_password
			return passwordDiffers, nil
		case "42501", "3D000": // insufficient_privilege, invalid_catalog_name
			return passwordMatches, nil
		}
	}
	if ctx.Err() != nil {
		return passwordUnknown, fmt.Errorf("checking the password of role %s: %w", role.Name, ctx.Err())
	}
	log.Info("Could not verify the password of role by logging in; it will be set again",
		"role", role.Name, "reason", err.Error())
	return passwordUnknown, nil
}
