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
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rekomi/rekomi/app/trust"
)

// exitTrustRefused is the exit code of `rekomi trust verify` for a
// statement the key did not sign, or that changed since.
const exitTrustRefused = 6

func trustCommand() command {
	return command{
		name:    "trust",
		summary: "check a Region's signed /trust statement",
		details: "Works on the statements a Region's app publishes at /trust.json.",
		subcommands: []command{{
			name:    "verify",
			summary: "verify a saved /trust.json against the Region's public key",
			args:    "FILE",
			details: "Checks that FILE (a saved /trust.json; - reads standard input) is a statement signed by\n" +
				"--public-key, the Region's status.trustPublicKey (kubectl get region NAME -o\n" +
				"jsonpath='{.status.trustPublicKey}'), unchanged since, and prints what it states: the\n" +
				"Region, when it was issued, and each claim. A statement signed by another key is refused,\n" +
				"even when it names that key itself.",
			setup: trustVerifyCommand,
		}},
	}
}

func trustVerifyCommand(fs *flag.FlagSet, stdout io.Writer) func(context.Context) error {
	publicKey := fs.String("public-key", "", "the Region's trust public key, base64, as its status.trustPublicKey holds it")
	fs.Usage = withFooter(fs.Usage, fs, "\nExit codes: 0 signed by the key (whatever its claims say), 1 failed, 2 bad usage, 6 not signed by the key or changed since.\n")
	return func(context.Context) error {
		if fs.NArg() != 1 {
			return usageError{errors.New("name one statement file (- for standard input)")}
		}
		key, err := trust.ParsePublicKey(strings.TrimSpace(*publicKey))
		if err != nil {
			return usageError{fmt.Errorf("--public-key: %w", err)}
		}
		data, err := readStatement(fs.Arg(0))
		if err != nil {
			return err
		}
		raw, err := trust.Verify(data, key)
		if err != nil {
			return exitError{code: exitTrustRefused, err: fmt.Errorf("refused: %w", err)}
		}
		var st trust.Statement
		if err := json.Unmarshal(raw, &st); err != nil {
			return fmt.Errorf("signed by the key, but not a statement this version reads: %w", err)
		}
		if st.Format != trust.Format {
			return fmt.Errorf("signed by the key, but not a statement of format %s that this version reads (format %q)", trust.Format, st.Format)
		}
		printStatement(stdout, st, time.Now())
		return nil
	}
}

// maxStatementBytes bounds a statement file: a Region's is about 20 KB.
const maxStatementBytes = 4 << 20

func readStatement(name string) ([]byte, error) {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("reading the statement: %w", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxStatementBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the statement: %w", err)
	}
	if len(data) > maxStatementBytes {
		return nil, exitError{code: exitTrustRefused, err: fmt.Errorf("refused: the statement is over %d bytes", maxStatementBytes)}
	}
	return data, nil
}

// printStatement says who signed what and how long ago, then each claim:
// a statement says what held when it was issued, not what holds now.
func printStatement(w io.Writer, st trust.Statement, now time.Time) {
	verdict := "every claim holds"
	if !st.Holds {
		verdict = "at least one claim fails"
	}
	fmt.Fprintf(w, "signed by region %s (%s), issued %s (%s ago): %s\n", st.Region, st.Location,
		st.IssuedAt.Format(time.RFC3339), now.Sub(st.IssuedAt).Round(time.Second), verdict)
	for _, c := range st.Claims {
		state := "holds"
		if !c.Holds {
			state = "FAILS"
		}
		fmt.Fprintf(w, "  %-5s  %-18s %s\n", state, c.ID, c.Title)
		for _, f := range c.Findings {
			fmt.Fprintf(w, "         %s\n", f)
		}
	}
}
