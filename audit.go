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
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/controllers"
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
				"the role in --database-url; a runtime role sees the organization through row-level security.\n" +
				"With --witness (the Organization's status.audit, as JSON) and --witness-public-key, it also\n" +
				"checks the chain against the heads the operator witnessed outside the database, which reveals\n" +
				"a chain rewritten with its hashes, and names the first seq that may have changed.",
			setup: auditVerifyCommand,
		}},
	}
}

func auditVerifyCommand(fs *flag.FlagSet, stdout io.Writer) func(context.Context) error {
	databaseURL := fs.String("database-url", "", "connection URL of the Region database (default: env DATABASE_URL)")
	org := fs.String("org", "", "id of the organization whose chain to verify")
	witnessFile := fs.String("witness", "", "file holding the Organization's status.audit as JSON "+
		"(kubectl get organization NAME -o jsonpath='{.status.audit}')")
	witnessKey := fs.String("witness-public-key", "", "the witness key's public half, base64, as the Secret "+
		"rekomi-audit-witness holds it under ed25519-public-key")
	fs.Usage = withFooter(fs.Usage, fs, "\nExit codes: 0 chain intact, 1 failed, 2 bad usage, 5 chain broken or departs from its witness.\n")
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
		witness, err := readWitness(*witnessFile, *witnessKey, orgID)
		if err != nil {
			return err
		}
		return runAuditVerify(ctx, stdout, url, orgID, witness)
	}
}

// readWitness reads and checks the witness the flags name; nil without
// --witness.
func readWitness(file, publicKey string, orgID uuid.UUID) (*audit.Witness, error) {
	if file == "" && publicKey == "" {
		return nil, nil
	}
	if file == "" || publicKey == "" {
		return nil, usageError{errors.New("--witness and --witness-public-key go together")}
	}
	pub, err := base64.StdEncoding.DecodeString(strings.TrimSpace(publicKey))
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil, usageError{fmt.Errorf("--witness-public-key must be %d bytes in base64", ed25519.PublicKeySize)}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading the witness: %w", err)
	}
	var status rekomiv1.AuditWitness
	if err := json.Unmarshal(data, &status); err != nil {
		return nil, fmt.Errorf("reading the witness %s: %w", file, err)
	}
	w := controllers.WitnessFromStatus(orgID, &status)
	if err := w.Verify(ed25519.PublicKey(pub)); err != nil {
		return nil, fmt.Errorf("witness %s for organization %s: %w", file, orgID, err)
	}
	return &w, nil
}

// runAuditVerify verifies orgID's chain in a tenant transaction, so that a
// runtime role reads it through row-level security, compares it with
// witness when there is one, and prints the outcome.
func runAuditVerify(ctx context.Context, stdout io.Writer, url string, orgID uuid.UUID, witness *audit.Witness) error {
	database, err := db.Open(ctx, url)
	if err != nil {
		return err
	}
	defer database.Close()
	var v audit.Verification
	var d *audit.Disagreement
	err = database.TenantTx(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		if v, err = audit.Verify(ctx, tx, orgID); err != nil || witness == nil {
			return err
		}
		d, err = audit.CompareWitness(ctx, tx, *witness)
		return err
	})
	if err != nil {
		return err
	}
	if d != nil {
		if _, err := fmt.Fprintf(stdout, "organization %s: chain departs from its witness from seq %d: %s\n", orgID, d.FirstSeq, d.Detail); err != nil {
			return err
		}
		return exitError{code: exitChainBroken, err: fmt.Errorf("%w: departs from its witness from seq %d of organization %s", errChainBroken, d.FirstSeq, orgID)}
	}
	if v.OK() {
		_, err = fmt.Fprintf(stdout, "organization %s: %d entries verified, chain intact%s\n", orgID, v.Verified, witnessed(witness))
		return err
	}
	if _, err := fmt.Fprintf(stdout, "organization %s: chain broken at seq %d (%s): %s; %d entries verified before it\n",
		orgID, v.BrokenSeq, v.Problem, v.Detail, v.Verified); err != nil {
		return err
	}
	return exitError{code: exitChainBroken, err: fmt.Errorf("%w at seq %d of organization %s", errChainBroken, v.BrokenSeq, orgID)}
}

// witnessed tells what a verified chain agreed with.
func witnessed(w *audit.Witness) string {
	if w == nil || len(w.Checkpoints) == 0 {
		return ""
	}
	last := w.Checkpoints[len(w.Checkpoints)-1]
	return fmt.Sprintf(", and holds the head witnessed at seq %d (%s)", last.Seq, last.At.UTC().Format(time.RFC3339))
}
