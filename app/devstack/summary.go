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
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// writeSummary prints how to use the stack and keeps the same text in
// summary.txt under the state directory, and the same facts for scripts in
// stack.json.
func writeSummary(opts Options, s *Stack, took time.Duration) error {
	var b bytes.Buffer
	summarize(&b, opts.Dir, s)
	if err := os.WriteFile(filepath.Join(opts.Dir, "summary.txt"), b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("writing the summary: %w", err)
	}
	if err := writeStackFile(opts.Dir, s); err != nil {
		return err
	}
	fmt.Fprintf(opts.Out, "\nready in %.1fs\n\n", took.Seconds())
	if _, err := opts.Out.Write(b.Bytes()); err != nil {
		return err
	}
	_, err := fmt.Fprintf(opts.Out, "\nLogs are in %s. Press Ctrl-C to stop everything.\n", filepath.Join(opts.Dir, "logs"))
	return err
}

// stackFile is the content of stack.json in the state directory: the
// kubeconfig, app URLs, admin API keys and webhook endpoints of the summary,
// for scripts and tests. It is rewritten at every start.
type stackFile struct {
	Kubeconfig    string    `json:"kubeconfig"`
	Apps          []App     `json:"apps"`
	Organizations []Org     `json:"organizations"`
	Webhooks      []Webhook `json:"webhooks"`
}

// writeStackFile writes stack.json, private like the summary since it holds
// the same secrets.
func writeStackFile(dir string, s *Stack) error {
	data, err := json.MarshalIndent(stackFile{Kubeconfig: s.Kubeconfig, Apps: s.Apps, Organizations: s.Orgs, Webhooks: s.signedWebhooks()}, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding stack.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "stack.json"), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing stack.json: %w", err)
	}
	return nil
}

func summarize(w io.Writer, dir string, s *Stack) {
	fmt.Fprintf(w, "Control plane:\n  export KUBECONFIG=%s; kubectl get regions,organizations,webhookendpoints\n", s.Kubeconfig)
	fmt.Fprintf(w, "\nApps:\n")
	for _, a := range s.Apps {
		fmt.Fprintf(w, "  %-8s %s  (admin pages: %s/admin; metrics: %s/metrics)\n", a.Region, a.URL, a.URL, a.MetricsURL)
	}
	fmt.Fprintf(w, "\nTrust pages, every claim measured live (/trust.json is the same statement, signed):\n")
	for _, a := range s.Apps {
		fmt.Fprintf(w, "  %-8s %s\n    public key %s\n", a.Region, a.TrustURL, a.TrustPublicKey)
	}
	fmt.Fprintf(w, "\nOrganizations and their admin API keys:\n")
	for _, o := range s.Orgs {
		fmt.Fprintf(w, "  %-8s region %-4s %s\n", o.Name, o.Region, o.APIKey)
	}
	fmt.Fprintf(w, "\nWebhook endpoints:\n")
	hooks := s.signedWebhooks()
	for _, h := range hooks {
		fmt.Fprintf(w, "  %s (%s, organization %s)\n    URL            %s\n    signing secret %s\n", h.Name, h.Provider, h.Organization, h.URL, h.Secret)
	}
	firstSteps(w, s)
	signedSteps(w, s.Starter, hooks)
}

// signedWebhooks are the stack's webhooks, each with its signed delivery
// when its organization holds the starter link.
func (s *Stack) signedWebhooks() []Webhook {
	hooks := make([]Webhook, len(s.Webhooks))
	copy(hooks, s.Webhooks)
	for i, h := range hooks {
		if st := s.Starter; st != nil && h.Organization == st.Org.Name {
			hooks[i].SignedDelivery = SignedDelivery(h, st.LinkCode, st.Currency)
		}
	}
	return hooks
}

// signedSteps prints each signed delivery command.
func signedSteps(w io.Writer, st *Starter, hooks []Webhook) {
	printed := false
	for _, h := range hooks {
		if h.SignedDelivery == "" {
			continue
		}
		if !printed {
			fmt.Fprintf(w, "\nA sale of 100.00 through link %s, delivered as each provider signs it (prints 200 once received;\n"+
				"the affiliate earns a commission; needs curl, openssl, base64 and sha1sum):\n", st.LinkCode)
			printed = true
		}
		fmt.Fprintf(w, "  # %s\n  %s\n", h.Name, h.SignedDelivery)
	}
}

// firstSteps prints copy-paste commands that follow the starter link as a
// browser would (a click), report a sale by the visitor it identified (a
// commission), and list the commissions. The pause after the click lets the
// app store it: it writes clicks in batches, every 100 ms, and attributes a
// sale only to a stored click.
func firstSteps(w io.Writer, s *Stack) {
	st := s.Starter
	if st == nil {
		return
	}
	fmt.Fprintf(w, "\nFirst click and commission, as organization %s (campaign Launch, 20%% of each sale,\n"+
		"affiliate %s, referral link %s):\n", st.Org.Name, st.AffiliateMail, st.LinkURL)
	fmt.Fprintf(w, "  export REKOMI_URL=%s REKOMI_KEY=%s\n", st.AppURL, st.Org.APIKey)
	cmds := FirstClickCommands(st)
	for _, cmd := range []string{cmds.Click + "; sleep 1", cmds.Sale, cmds.Commissions} {
		fmt.Fprintf(w, "  %s\n", cmd)
	}
	fmt.Fprintf(w, "The API is described at $REKOMI_URL/openapi.json.\n")
}

// FirstClick holds the shell commands printed for a first click, a sale
// and its commission. They expect REKOMI_URL and REKOMI_KEY set.
type FirstClick struct {
	// Click follows the starter link as a browser would, sets VISITOR to
	// the visitor id of the cookie the app answers with, and prints it.
	Click string
	// Sale reports a sale of 100.00 by VISITOR, which is attributed to the
	// click once the app has stored it.
	Sale string
	// Commissions lists the organization's commissions.
	Commissions string
}

// FirstClickCommands are the commands of a first click on st's link.
func FirstClickCommands(st *Starter) FirstClick {
	auth := `-H "Authorization: Bearer $REKOMI_KEY"`
	return FirstClick{
		Click: `VISITOR=$(curl -s -o /dev/null -D - -A 'Mozilla/5.0' $REKOMI_URL/r/` + st.LinkCode +
			` | sed -n 's/^Set-Cookie: rk_vid=\([^;]*\).*/\1/p'); echo "clicked as visitor $VISITOR"`,
		Sale: `curl -s $REKOMI_URL/v1/track/sale ` + auth + ` -H 'Content-Type: application/json' -d '{"customer":{"external_id":"cus_'$VISITOR'",` +
			`"email":"buyer@example.com"},"visitor_id":"'$VISITOR'","external_id":"inv_'$VISITOR'","amount":10000,"currency":"` + st.Currency + `"}'`,
		Commissions: `curl -s $REKOMI_URL/v1/commissions ` + auth,
	}
}
