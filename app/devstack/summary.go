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

package devstack

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// writeSummary prints how to use the stack and keeps the same text in
// summary.txt under the state directory.
func writeSummary(opts Options, s *Stack, took time.Duration) error {
	var b bytes.Buffer
	summarize(&b, opts.Dir, s)
	if err := os.WriteFile(filepath.Join(opts.Dir, "summary.txt"), b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("writing the summary: %w", err)
	}
	fmt.Fprintf(opts.Out, "\nready in %.1fs\n\n", took.Seconds())
	if _, err := opts.Out.Write(b.Bytes()); err != nil {
		return err
	}
	_, err := fmt.Fprintf(opts.Out, "\nLogs are in %s. Press Ctrl-C to stop everything.\n", filepath.Join(opts.Dir, "logs"))
	return err
}

func summarize(w io.Writer, dir string, s *Stack) {
	fmt.Fprintf(w, "Control plane:\n  export KUBECONFIG=%s; kubectl get regions,organizations,webhookendpoints\n", s.Kubeconfig)
	fmt.Fprintf(w, "\nApps:\n")
	for _, a := range s.Apps {
		fmt.Fprintf(w, "  %-8s %s  (admin pages: %s/admin)\n", a.Region, a.URL, a.URL)
	}
	fmt.Fprintf(w, "\nOrganizations and their admin API keys:\n")
	for _, o := range s.Orgs {
		fmt.Fprintf(w, "  %-8s region %-4s %s\n", o.Name, o.Region, o.APIKey)
	}
	fmt.Fprintf(w, "\nWebhook endpoints:\n")
	for _, h := range s.Webhooks {
		fmt.Fprintf(w, "  %s (%s, organization %s)\n    URL            %s\n    signing secret %s\n", h.Name, h.Provider, h.Organization, h.URL, h.Secret)
	}
	firstSteps(w, s)
}

// firstSteps prints copy-paste commands against the first organization
// that has a Stripe endpoint (or the first organization).
func firstSteps(w io.Writer, s *Stack) {
	if len(s.Orgs) == 0 {
		return
	}
	org := s.Orgs[0]
	for _, h := range s.Webhooks {
		if h.Provider == "stripe" {
			for _, o := range s.Orgs {
				if o.Name == h.Organization {
					org = o
				}
			}
			break
		}
	}
	app := ""
	for _, a := range s.Apps {
		if a.Region == org.Region {
			app = a.URL
		}
	}
	fmt.Fprintf(w, "\nFirst steps, as organization %s:\n", org.Name)
	fmt.Fprintf(w, "  export REKOMI_URL=%s REKOMI_KEY=%s\n", app, org.APIKey)
	fmt.Fprintf(w, "  curl -s $REKOMI_URL/v1/campaigns -H \"Authorization: Bearer $REKOMI_KEY\" -H 'Content-Type: application/json' \\\n"+
		"    -d '{\"name\":\"Launch\",\"currency\":\"EUR\",\"commission\":{\"type\":\"percentage\",\"percent_bps\":2000},\"hold_days\":0}'\n")
	fmt.Fprintf(w, "  curl -s $REKOMI_URL/v1/campaigns -H \"Authorization: Bearer $REKOMI_KEY\"\n")
	fmt.Fprintf(w, "  curl -s $REKOMI_URL/openapi.json | head -c 300\n")
}
