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

package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// redoclyEnv names a Redocly CLI executable to use instead of the one
// hack/redocly.sh installs.
const redoclyEnv = "REKOMI_REDOCLY"

// lintProblem is one finding of `redocly lint --format=json`.
type lintProblem struct {
	RuleID   string `json:"ruleId"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
	Location []struct {
		Pointer string `json:"pointer"`
	} `json:"location"`
}

func (p lintProblem) String() string {
	at := ""
	if len(p.Location) > 0 {
		at = " at " + p.Location[0].Pointer
	}
	return fmt.Sprintf("%s %s%s: %s", p.Severity, p.RuleID, at, p.Message)
}

// TestOpenAPILint holds the document to Redocly CLI's recommended rules
// (hack/redocly/redocly.yaml): not one error or warning. The linter is made
// by others and pinned by hack/redocly/package-lock.json.
func TestOpenAPILint(t *testing.T) {
	t.Parallel()
	redocly := redoclyBinary(t)

	t.Run("TheDocumentPasses", func(t *testing.T) {
		t.Parallel()
		problems := redoclyLint(t, redocly, "openapi.json")
		require.Empty(t, problems, "Redocly CLI finds problems in openapi.json")
	})

	t.Run("SeededFlawsAreCaught", func(t *testing.T) {
		t.Parallel()
		_, doc := loadOpenAPI(t)
		delete(doc, "servers")
		delete(doc["info"].(map[string]any), "license")
		delete(doc["tags"].([]any)[0].(map[string]any), "description")
		healthz := doc["paths"].(map[string]any)["/healthz"].(map[string]any)["get"].(map[string]any)
		healthz["responses"] = map[string]any{"200": healthz["responses"].(map[string]any)["200"]}
		redirect := doc["paths"].(map[string]any)["/r/{code}"].(map[string]any)["get"].(map[string]any)["responses"].(map[string]any)
		delete(redirect, "default")
		flawed := filepath.Join(t.TempDir(), "openapi.json")
		require.NoError(t, os.WriteFile(flawed, mustJSON(t, doc), 0o600))

		found := map[string]bool{}
		for _, p := range redoclyLint(t, redocly, flawed) {
			found[p.RuleID] = true
		}
		for _, rule := range []string{"no-empty-servers", "info-license", "tag-description", "operation-4xx-response", "operation-2xx-response"} {
			require.True(t, found[rule], "Redocly CLI does not report %s; it found %v", rule, found)
		}
	})
}

// redoclyLint lints the OpenAPI document at path and returns every error
// and warning.
func redoclyLint(t *testing.T, redocly, path string) []lintProblem {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, redocly, "lint", "--config", filepath.Join("..", "..", "hack", "redocly", "redocly.yaml"),
		"--format=json", path)
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_NOTIFICATIONS=true")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) { // it exits 1 when it finds an error
		t.Fatalf("running %s: %v: %s", redocly, err, stderr.String())
	}
	var report struct {
		Totals struct {
			Errors   int `json:"errors"`
			Warnings int `json:"warnings"`
		} `json:"totals"`
		Problems []lintProblem `json:"problems"`
	}
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &report), "redocly lint printed no JSON report (exit: %v): %s%s", err, stdout.String(), stderr.String())
	require.Len(t, report.Problems, report.Totals.Errors+report.Totals.Warnings, "the report's problems and totals disagree")
	return report.Problems
}

// redoclyBinary is $REKOMI_REDOCLY, or the Redocly CLI hack/redocly.sh
// installs once (from the npm registry, with the machine's Node.js).
func redoclyBinary(t *testing.T) string {
	t.Helper()
	const fix = "the OpenAPI lint needs Redocly CLI: run hack/redocly.sh (it needs Node.js 20.19 or later with npm), or set " + redoclyEnv + " to a redocly executable"
	if bin := os.Getenv(redoclyEnv); bin != "" {
		return bin
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	var stderr strings.Builder
	cmd := exec.CommandContext(ctx, filepath.Join("..", "..", "hack", "redocly.sh"))
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hack/redocly.sh failed: %v: %s; %s", err, strings.TrimSpace(stderr.String()), fix)
	}
	return strings.TrimSpace(string(out))
}
