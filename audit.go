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

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/db"
)

// exitChainBroken is the exit code of `rekomi audit verify` for a broken
// chain.
const exitChainBroken = 5

// errChainBroken is returned when an organization's audit chain fails
// verification.
var errChainBroken = errors.New("audit chain broken")

func auditCommand() command {
	return command{
		name:    "audit",
		summary: "check an organization's audit log",
		details: "Works on the append-only, hash-chained audit log of one organization.",
		subcommands: []command{{
			name:    "verify",
			summary: "verify an organization's audit hash chain",
			details: "Walks the audit log of --org in seq order and checks that seq counts up from 1 without gaps,\n" +
				"that each entry links to the one before and that each hash matches the entry. It connects as\n" +
				"the role in --database-url; a runtime role sees the organization through row-level security.",
			setup: auditVerifyCommand,
		}},
	}
}

func auditVerifyCommand(fs *flag.FlagSet, stdout io.Writer) func(context.Context) error {
	databaseURL := fs.String("database-url", "", "connection URL of the Region database (default: env DATABASE_URL)")
	org := fs.String("org", "", "id of the organization whose chain to verify")
	fs.Usage = withFooter(fs.Usage, fs, "\nExit codes: 0 chain intact, 1 failed, 2 bad usage, 5 chain broken.\n")
	return func(ctx context.Context) error {
		url := *databaseURL
		if url == "" {
			url = os.Getenv("DATABASE_URL")
		}
		if url == "" {
			return usageError{errors.New("no database: pass --database-url or set DATABASE_URL")}
		}
		if *org == "" {
			return usageError{errors.New("no organization: pass --org")}
		}
		orgID, err := uuid.Parse(*org)
		if err != nil || orgID == uuid.Nil {
			return usageError{fmt.Errorf("--org must be an organization id, got %q", *org)}
		}
		return runAuditVerify(ctx, stdout, url, orgID)
	}
}

// runAuditVerify verifies orgID's chain in a tenant transaction, so that a
// runtime role reads it through row-level security, and prints the outcome.
func runAuditVerify(ctx context.Context, stdout io.Writer, url string, orgID uuid.UUID) error {
	database, err := db.Open(ctx, url)
	if err != nil {
		return err
	}
	defer database.Close()
	var v audit.Verification
	err = database.TenantTx(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		v, err = audit.Verify(ctx, tx, orgID)
		return err
	})
	if err != nil {
		return err
	}
	if v.OK() {
		_, err = fmt.Fprintf(stdout, "organization %s: %d entries verified, chain intact\n", orgID, v.Verified)
		return err
	}
	if _, err := fmt.Fprintf(stdout, "organization %s: chain broken at seq %d (%s): %s; %d entries verified before it\n",
		orgID, v.BrokenSeq, v.Problem, v.Detail, v.Verified); err != nil {
		return err
	}
	return exitError{code: exitChainBroken, err: fmt.Errorf("%w at seq %d of organization %s", errChainBroken, v.BrokenSeq, orgID)}
}
