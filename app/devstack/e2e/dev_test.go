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

package e2e_test

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDevProcess runs `rekomi dev` as its own process and, through kubectl
// and HTTP only, adds an organization and its Stripe endpoint, follows one
// referral from a link and a click to a paid invoice, a replayed delivery
// and a refund, finds one commission earned and reversed, every step in an
// audit log whose chain verifies, and none of it visible to a sample
// organization of the same Region. Then Ctrl-C (SIGINT) must stop it with
// status 0, leaving no process running and no socket listening; started
// again, it finds that data, and killed (SIGKILL), it leaves nothing either.
func TestDevProcess(t *testing.T) {
	kubectlBin := findKubectl(t)
	dev := startDev(t, stateDir(t))
	stack := dev.stack(t)
	k := kubectl{bin: kubectlBin, kubeconfig: stack.Kubeconfig}
	listened := checkListeners(t, dev, stack, k)

	org := addOrganization(t, k, stack)
	ref := setUpReferral(t, org)
	visitor := clickLink(t, org, ref)
	sale := payAndRefund(t, org, ref, visitor)
	checkAuditTrail(t, org, ref, sale)
	checkIsolation(t, sampleOrganization(t, stack, org.region), org, ref, sale)
	unbindAndBind(t, k, org)

	dev.interrupt(t)
	dev.requireNothingLeft(t, listened)
	restartAndKill(t, dev.dir, kubectlBin, org, ref)
}

// restartAndKill starts rekomi dev again on dir, where it must find the
// organization and the link added before, then kills it outright
// (SIGKILL), as a crash would: the servers it started must end with it all
// the same. The app keeps its address unless another program took the
// port meanwhile, so the test reads it again from stack.json.
func restartAndKill(t *testing.T, dir, kubectlBin string, org tenant, ref referral) {
	t.Helper()
	dev := startDev(t, dir)
	stack := dev.stack(t)
	k := kubectl{bin: kubectlBin, kubeconfig: stack.Kubeconfig}
	listened := checkListeners(t, dev, stack, k)
	k.run(t, "", "wait", "--for=condition=Ready", "organization/initech", "--timeout=2m")
	api := org.api
	api.base = appURL(t, stack, org.region)
	if api.base != org.api.base {
		t.Logf("the app of region %s moved from %s to %s: its port was taken", org.region, org.api.base, api.base)
	}
	var link object
	api.do(t, http.MethodGet, "/v1/links/"+ref.linkID, "", http.StatusOK, &link)
	require.Equal(t, ref.code, link.Code, "the link kept in the state directory")

	dev.killLeader(t)
	dev.requireNothingLeft(t, listened)
}

// checkListeners finds what the stack listens on while it runs: each app,
// the API server of the kubeconfig and one PostgreSQL server per Region
// must be among them (a server is counted once, whatever its backends
// hold). It returns every listening socket.
func checkListeners(t *testing.T, dev *devProcess, stack stackFile, k kubectl) []listener {
	t.Helper()
	procs, err := stackProcs(dev.cmd.Process.Pid)
	require.NoError(t, err)
	procs, err = withListeners(procs)
	require.NoError(t, err)
	var all []string
	var sockets []listener
	for _, p := range procs {
		t.Logf("%s listens on %v", p, p.listenAddr)
		all = append(all, p.listenAddr...)
		sockets = append(sockets, p.sockets...)
	}
	servers := postmasters(procs)
	for _, p := range servers {
		require.NotEmpty(t, p.listenAddr, "PostgreSQL server %s listens", p)
	}
	for _, a := range stack.Apps {
		u, err := url.Parse(a.URL)
		require.NoError(t, err)
		require.Contains(t, all, u.Host, "the app of region %s is served by the stack", a.Region)
	}
	server, err := url.Parse(k.run(t, "", "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"))
	require.NoError(t, err)
	require.Contains(t, all, server.Host, "the API server of the kubeconfig is the stack's")
	require.Len(t, servers, len(stack.Apps), "one PostgreSQL server per Region")
	return sockets
}

// tenant is the organization the test adds, as kubectl shows it.
type tenant struct {
	id, region, appURL, endpointID string
	metricsURL                     string // its app's, apart from appURL
	api                            merchant
	stripe                         stripeEndpoint
}

// addOrganization applies a new Organization and a Stripe WebhookEndpoint
// with its signing Secret, in the Region of the first sample organization,
// waits for both to be Ready, and reads the admin API key the operator
// delivers and the URL it publishes.
func addOrganization(t *testing.T, k kubectl, stack stackFile) tenant {
	t.Helper()
	org := tenant{region: stack.Organizations[0].Region}
	secret := "whsec_" + randomHex(t, 16)
	out := k.run(t, `
apiVersion: rekomi.io/v1alpha1
kind: Organization
metadata:
  name: initech
spec:
  displayName: Initech
  region: `+org.region+`
  plan: pro
---
apiVersion: v1
kind: Namespace
metadata:
  name: initech
  labels:
    rekomi.io/organization: initech
---
apiVersion: v1
kind: Secret
metadata:
  name: initech-stripe-signing
  namespace: initech
type: Opaque
stringData:
  current: `+secret+`
---
apiVersion: rekomi.io/v1alpha1
kind: WebhookEndpoint
metadata:
  name: initech-stripe
  namespace: initech
spec:
  organization: initech
  provider: stripe
  secretRef:
    name: initech-stripe-signing
  tolerance: 300s
`, "apply", "-f", "-")
	require.Contains(t, out, "organization.rekomi.io/initech created")
	require.Contains(t, out, "webhookendpoint.rekomi.io/initech-stripe created")
	k.run(t, "", "wait", "--for=condition=Ready", "organization/initech", "--timeout=2m")
	k.run(t, "", "-n", "initech", "wait", "--for=condition=Ready", "webhookendpoint/initech-stripe", "--timeout=2m")

	org.id = k.get(t, "", "organization/initech", ".status.id")
	require.Len(t, org.id, 36, "the organization's id is a UUID")
	namespace := k.get(t, "", "region/"+org.region, ".spec.namespace")
	key := k.secretValue(t, namespace, "initech-admin-api-key", "api-key")
	require.True(t, strings.HasPrefix(key, "rk_live_"), "the admin API key has the rk_live_ prefix")
	org.appURL = k.get(t, "", "region/"+org.region, ".spec.app.publicBaseURL")
	require.Equal(t, org.appURL, appURL(t, stack, org.region), "the Region's public URL is its app's")
	org.api = merchant{base: org.appURL, key: key}
	org.metricsURL = appOf(t, stack, org.region).MetricsURL
	status, _ := org.api.call(t, http.MethodGet, "/metrics", "")
	require.Equal(t, http.StatusNotFound, status, "the public port serves no metrics")

	org.endpointID = k.get(t, "initech", "webhookendpoint/initech-stripe", ".status.endpointID")
	hookURL := k.get(t, "initech", "webhookendpoint/initech-stripe", ".status.url")
	require.Equal(t, org.appURL+"/webhooks/stripe/"+org.endpointID, hookURL)
	org.stripe = stripeEndpoint{url: hookURL, secret: secret}
	return org
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// referral is a campaign, an approved affiliate and its link.
type referral struct {
	campaignID, affiliateID, linkID, code, linkURL string
}

type object struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Code   string `json:"code"`
	URL    string `json:"url"`
	Invite struct {
		Token string `json:"token"`
	} `json:"invite"`
}

// setUpReferral creates a 20% campaign, whose commissions are held for 30
// days (pending while the test runs), invites an affiliate, who accepts,
// approves it, and creates its referral link, as a merchant would.
func setUpReferral(t *testing.T, org tenant) referral {
	t.Helper()
	var campaign, affiliate, approved, link object
	org.api.do(t, http.MethodPost, "/v1/campaigns",
		`{"name":"Spring launch","currency":"EUR","commission":{"type":"percentage","percent_bps":2000},"hold_days":30}`,
		http.StatusCreated, &campaign)
	org.api.do(t, http.MethodPost, "/v1/affiliates", `{"email":"ada@partner.example"}`, http.StatusCreated, &affiliate)
	require.NotEmpty(t, affiliate.Invite.Token, "the invite token is shown once")
	org.api.do(t, http.MethodPost, "/v1/affiliates/accept", `{"token":"`+affiliate.Invite.Token+`"}`, http.StatusOK, nil)
	org.api.do(t, http.MethodPost, "/v1/affiliates/"+affiliate.ID+"/approve", "", http.StatusOK, &approved)
	require.Equal(t, "active", approved.Status)
	org.api.do(t, http.MethodPost, "/v1/links", `{"affiliate_id":"`+affiliate.ID+`","campaign_id":"`+campaign.ID+
		`","destination_url":"https://initech.example/pricing?plan=pro"}`, http.StatusCreated, &link)
	require.Equal(t, org.appURL+"/r/"+link.Code, link.URL)
	return referral{campaignID: campaign.ID, affiliateID: affiliate.ID, linkID: link.ID, code: link.Code, linkURL: link.URL}
}

// clickLink follows the link as a browser, expects a redirect to the
// destination with the code and a visitor cookie, waits until the app has
// stored the click, and returns the visitor id.
func clickLink(t *testing.T, org tenant, ref referral) string {
	t.Helper()
	stored := metric(t, org.metricsURL, "rekomi_clicks_stored_total")
	jar := newJar(t)
	resp := click(t, ref.linkURL, jar)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	dest, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, "initech.example", dest.Host)
	require.Equal(t, ref.code, dest.Query().Get("ref"))
	require.Equal(t, "pro", dest.Query().Get("plan"), "the destination's query is kept")
	visitor := cookie(t, jar, org.appURL, "rk_vid")
	require.Len(t, visitor, 36, "the visitor cookie holds a UUID")
	// The app stores clicks in batches; the checkout must find this one.
	waitMetric(t, org.metricsURL, "rekomi_clicks_stored_total", stored+1)
	return visitor
}

// sale is what Stripe's events made, by id.
type sale struct {
	customerID, conversionID, commissionID string
}

// The Stripe objects of the referred customer's purchase.
const (
	stripeCustomer = "cus_e2e_initech"
	stripeInvoice  = "in_e2e_initech"
	stripeCharge   = "ch_e2e_initech"
	stripeIntent   = "pi_e2e_initech"
	checkoutEvent  = "evt_e2e_checkout"
	invoiceEvent   = "evt_e2e_invoice_paid"
	refundEvent    = "evt_e2e_charge_refunded"
	invoiceAmount  = 4900 // 49.00 EUR
)

type commission struct {
	ID             string  `json:"id"`
	ConversionID   string  `json:"conversion_id"`
	AffiliateID    string  `json:"affiliate_id"`
	CampaignID     string  `json:"campaign_id"`
	Amount         int64   `json:"amount"`
	Currency       string  `json:"currency"`
	Status         string  `json:"status"`
	ReversedReason *string `json:"reversed_reason"`
}

type customer struct {
	ID          string  `json:"id"`
	ExternalID  *string `json:"external_id"`
	AffiliateID *string `json:"affiliate_id"`
	LinkID      *string `json:"link_id"`
}

type conversion struct {
	ID          string  `json:"id"`
	Kind        string  `json:"kind"`
	ExternalID  *string `json:"external_id"`
	CustomerID  string  `json:"customer_id"`
	Amount      int64   `json:"amount"`
	AffiliateID *string `json:"affiliate_id"`
}

// payAndRefund delivers, signed with the endpoint's secret, the checkout
// of the visitor, its paid invoice, the same invoice.paid again, and the
// refund of its charge, checking through the API after each.
func payAndRefund(t *testing.T, org tenant, ref referral, visitor string) sale {
	t.Helper()
	// Stripe's times are whole seconds: the checkout may well be stamped
	// with the second of the click.
	now := time.Now().Unix()
	org.stripe.deliver(t, stripeEvent(checkoutEvent, "checkout.session.completed", now, map[string]any{
		"id": "cs_e2e_initech", "object": "checkout.session", "client_reference_id": visitor,
		"customer": stripeCustomer, "customer_details": map[string]any{"email": "buyer@initech.example"},
		"amount_total": invoiceAmount, "currency": "eur", "mode": "subscription", "payment_status": "paid", "status": "complete",
	}))
	customers := list[customer](t, org.api, "/v1/customers")
	require.Len(t, customers, 1)
	c := customers[0]
	require.Equal(t, stripeCustomer, deref(c.ExternalID))
	require.Equal(t, ref.affiliateID, deref(c.AffiliateID), "the customer is attributed to the click's affiliate")
	require.Equal(t, ref.linkID, deref(c.LinkID))

	paid := stripeEvent(invoiceEvent, "invoice.paid", now+1, map[string]any{
		"id": stripeInvoice, "object": "invoice", "customer": stripeCustomer, "amount_paid": invoiceAmount, "currency": "eur",
		"status": "paid", "paid": true, "charge": stripeCharge, "payment_intent": stripeIntent,
		"status_transitions": map[string]any{"paid_at": now + 1},
	})
	org.stripe.deliver(t, paid)
	earned := list[commission](t, org.api, "/v1/commissions")
	require.Len(t, earned, 1, "the paid invoice earns one commission")
	s := sale{customerID: c.ID, conversionID: earned[0].ConversionID, commissionID: earned[0].ID}
	require.Equal(t, int64(980), earned[0].Amount, "20%% of 49.00 EUR")
	require.Equal(t, "EUR", earned[0].Currency)
	require.Equal(t, ref.affiliateID, earned[0].AffiliateID)
	require.Equal(t, ref.campaignID, earned[0].CampaignID)
	require.Equal(t, "pending", earned[0].Status, "held for 30 days")
	conversions := list[conversion](t, org.api, "/v1/conversions")
	require.Len(t, conversions, 1)
	require.Equal(t, s.conversionID, conversions[0].ID)
	require.Equal(t, "sale", conversions[0].Kind)
	require.Equal(t, stripeInvoice, deref(conversions[0].ExternalID))
	require.Equal(t, int64(invoiceAmount), conversions[0].Amount)
	require.Equal(t, c.ID, conversions[0].CustomerID)

	// Stripe delivers the same event again: a 200 that changes nothing.
	before := snapshot(t, org.api)
	replays := metric(t, org.metricsURL, `rekomi_webhook_deliveries_total{provider="stripe",outcome="replay"}`)
	org.stripe.deliver(t, paid)
	require.Equal(t, before, snapshot(t, org.api), "a replayed delivery changes nothing")
	require.Equal(t, replays+1, metric(t, org.metricsURL, `rekomi_webhook_deliveries_total{provider="stripe",outcome="replay"}`),
		"the app counts the replay")

	org.stripe.deliver(t, stripeEvent(refundEvent, "charge.refunded", now+2, map[string]any{
		"id": stripeCharge, "object": "charge", "amount": invoiceAmount, "amount_captured": invoiceAmount,
		"amount_refunded": invoiceAmount, "captured": true, "currency": "eur", "customer": stripeCustomer,
		"invoice": stripeInvoice, "paid": true, "payment_intent": stripeIntent, "refunded": true, "status": "succeeded",
	}))
	reversed := list[commission](t, org.api, "/v1/commissions")
	require.Len(t, reversed, 1, "the refund reverses the commission rather than adding one")
	require.Equal(t, s.commissionID, reversed[0].ID)
	require.Equal(t, "reversed", reversed[0].Status)
	require.Equal(t, "refunded", deref(reversed[0].ReversedReason))
	var one commission
	org.api.do(t, http.MethodGet, "/v1/commissions/"+s.commissionID, "", http.StatusOK, &one)
	require.Equal(t, reversed[0], one)
	return s
}

// snapshot is what a delivery could change, as the API shows it.
func snapshot(t *testing.T, api merchant) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, path := range []string{"/v1/customers", "/v1/conversions", "/v1/commissions", "/v1/audit-log"} {
		status, body := api.call(t, http.MethodGet, path+"?limit=100", "")
		require.Equal(t, http.StatusOK, status, "%s: %s", path, body)
		out[path] = string(body)
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

type auditEntry struct {
	Seq   int64    `json:"seq"`
	Actor auditRef `json:"actor"`
	// Action is what happened to Target.
	Action string   `json:"action"`
	Target auditRef `json:"target"`
}

type auditRef struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// checkAuditTrail expects every step above in the organization's audit
// log, in order, by the actor that took it, and a chain that verifies.
func checkAuditTrail(t *testing.T, org tenant, ref referral, s sale) {
	t.Helper()
	entries := list[auditEntry](t, org.api, "/v1/audit-log") // newest first
	trail := make([]string, len(entries))
	for i, e := range entries {
		require.Equal(t, int64(len(entries)-i), e.Seq, "sequence numbers have no gap")
		trail[len(entries)-1-i] = e.Actor.Type + ":" + e.Actor.ID + " " + e.Action + " " + e.Target.Type + ":" + e.Target.ID
	}
	var adminKey string
	for _, e := range entries {
		if e.Action == "api_key.created" {
			adminKey = e.Target.ID
		}
	}
	require.NotEmpty(t, adminKey, "the operator audits the admin key it delivers: %v", trail)
	merchant := "api_key:" + adminKey
	// Steps in order; the entries of one step (an event's receipt and its
	// effect, written in one transaction) in any order.
	want := [][]string{
		{"operator:* organization.created organization:" + org.id},
		{"operator:* api_key.created api_key:" + adminKey},
		{"operator:* webhook_endpoint.created webhook_endpoint:" + org.endpointID},
		{merchant + " campaign.created campaign:" + ref.campaignID},
		{merchant + " affiliate.invited affiliate:" + ref.affiliateID},
		{merchant + " affiliate.accepted affiliate:" + ref.affiliateID},
		{merchant + " affiliate.approved affiliate:" + ref.affiliateID},
		{merchant + " link.created referral_link:" + ref.linkID},
		{"provider:stripe billing_event.received billing_event:" + checkoutEvent,
			"provider:stripe customer.attributed customer:" + s.customerID},
		{"provider:stripe billing_event.received billing_event:" + invoiceEvent,
			"provider:stripe conversion.sale_tracked conversion:" + s.conversionID},
		{"provider:stripe billing_event.received billing_event:" + refundEvent,
			"provider:stripe commission.reversed commission:" + s.commissionID},
	}
	require.True(t, inOrder(trail, want), "the audit log lists each step in order:\nwant (in order):\n  %v\ngot:\n  %s",
		want, strings.Join(trail, "\n  "))
	counts := map[string]int{}
	for _, e := range entries {
		counts[e.Action]++
	}
	require.Equal(t, 3, counts["billing_event.received"], "the replay is not recorded")
	require.Equal(t, 1, counts["conversion.sale_tracked"])
	require.Equal(t, 1, counts["commission.reversed"])

	var v struct {
		OK       bool   `json:"ok"`
		Verified int64  `json:"verified"`
		HeadSeq  int64  `json:"head_seq"`
		Problem  string `json:"problem"`
		Witness  struct {
			State string `json:"state"`
			Seq   int64  `json:"seq"`
		} `json:"witness"`
	}
	org.api.do(t, http.MethodGet, "/v1/audit-log/verify", "", http.StatusOK, &v)
	require.True(t, v.OK, "the chain verifies: %+v", v)
	require.Equal(t, int64(len(entries)), v.Verified, "every entry is verified")
	require.Equal(t, int64(len(entries)), v.HeadSeq)

	// The operator witnessed the chain when it provisioned the
	// organization; the witness reaches the app through its Region's
	// ConfigMaps, which the stack mirrors as a kubelet would.
	deadline := time.Now().Add(2 * time.Minute)
	for v.Witness.State != "agrees" {
		require.Contains(t, []string{"not_witnessed", "agrees"}, v.Witness.State, "%+v", v)
		require.True(t, time.Now().Before(deadline), "the chain is not checked against its witness after 2 minutes: %+v", v)
		time.Sleep(500 * time.Millisecond)
		org.api.do(t, http.MethodGet, "/v1/audit-log/verify", "", http.StatusOK, &v)
	}
	require.True(t, v.OK, "%+v", v)
	require.Positive(t, v.Witness.Seq)
	require.LessOrEqual(t, v.Witness.Seq, v.HeadSeq)
}

// inOrder says whether got holds the entries of each step of want, one
// step after the other; a "*" actor id in want matches any.
func inOrder(got []string, want [][]string) bool {
	step, left := 0, slices.Clone(want[0])
	for _, g := range got {
		i := slices.IndexFunc(left, func(w string) bool { return entryMatches(g, w) })
		if i < 0 {
			continue
		}
		left = slices.Delete(left, i, i+1)
		if len(left) > 0 {
			continue
		}
		if step++; step == len(want) {
			return true
		}
		left = slices.Clone(want[step])
	}
	return false
}

func entryMatches(got, want string) bool {
	actor, rest, _ := strings.Cut(want, " ")
	if kind, ok := strings.CutSuffix(actor, ":*"); ok {
		gotActor, gotRest, _ := strings.Cut(got, " ")
		return strings.HasPrefix(gotActor, kind+":") && gotRest == rest
	}
	return got == want
}

// sampleOrganization is the key of a sample organization of region, from
// stack.json.
func sampleOrganization(t *testing.T, stack stackFile, region string) merchant {
	t.Helper()
	for _, o := range stack.Organizations {
		if o.Region != region {
			continue
		}
		return merchant{base: appURL(t, stack, region), key: o.APIKey}
	}
	t.Fatalf("stack.json lists no organization of region %s", region)
	return merchant{}
}

// checkIsolation expects another organization of the same Region, on the
// same app and database, to find none of the new organization's objects:
// no list holds their ids and each is a 404 by id. The new organization
// sees none of the other's links either.
func checkIsolation(t *testing.T, other merchant, org tenant, ref referral, s sale) {
	t.Helper()
	require.Equal(t, org.appURL, other.base, "both organizations are served by one app")
	ids := []string{org.id, org.endpointID, ref.campaignID, ref.affiliateID, ref.linkID, s.customerID, s.conversionID, s.commissionID}
	for _, path := range []string{"/v1/campaigns", "/v1/affiliates", "/v1/links", "/v1/customers", "/v1/conversions",
		"/v1/commissions", "/v1/payouts", "/v1/audit-log"} {
		status, body := other.call(t, http.MethodGet, path+"?limit=100", "")
		require.Equal(t, http.StatusOK, status, "%s: %s", path, body)
		for _, id := range ids {
			require.NotContains(t, string(body), id, "%s of another organization", path)
		}
		for _, external := range []string{stripeCustomer, stripeInvoice, checkoutEvent, invoiceEvent, refundEvent} {
			require.NotContains(t, string(body), external, "%s of another organization", path)
		}
	}
	for path, id := range map[string]string{"/v1/campaigns/": ref.campaignID, "/v1/affiliates/": ref.affiliateID,
		"/v1/links/": ref.linkID, "/v1/customers/": s.customerID, "/v1/conversions/": s.conversionID,
		"/v1/commissions/": s.commissionID} {
		status, body := other.call(t, http.MethodGet, path+id, "")
		require.Equal(t, http.StatusNotFound, status, "GET %s%s by another organization: %s", path, id, body)
	}
	status, body := other.call(t, http.MethodPost, "/v1/commissions/"+s.commissionID+"/reverse", `{"reason":"not mine"}`)
	require.Equal(t, http.StatusNotFound, status, "reversing another organization's commission: %s", body)

	links := list[object](t, org.api, "/v1/links")
	require.Len(t, links, 1, "the new organization sees its own link only")
	require.Equal(t, ref.linkID, links[0].ID)
}

// appURL is the URL of region's app, from stack.json.
func appURL(t *testing.T, stack stackFile, region string) string {
	t.Helper()
	return appOf(t, stack, region).URL
}

// appOf is region's app, from stack.json.
func appOf(t *testing.T, stack stackFile, region string) stackApp {
	t.Helper()
	for _, a := range stack.Apps {
		if a.Region == region {
			return a
		}
	}
	t.Fatalf("stack.json lists no app of region %s", region)
	return stackApp{}
}

// unbindAndBind removes the label that binds the organization's namespace
// to it: its endpoint must then answer a signed delivery with the same
// empty 401 as an unknown one, within seconds, and say why. Labelled
// again, the endpoint takes deliveries again at the same URL.
func unbindAndBind(t *testing.T, k kubectl, org tenant) {
	t.Helper()
	event := func() []byte {
		return stripeEvent("evt_"+randomHex(t, 12), "customer.created", time.Now().Unix(),
			map[string]any{"id": "cus_" + randomHex(t, 8), "object": "customer"})
	}
	k.run(t, "", "label", "namespace", "initech", "rekomi.io/organization-")
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, answer := org.stripe.post(t, event())
		if status == http.StatusUnauthorized {
			require.Empty(t, answer, "the refusal says nothing")
			break
		}
		require.Equal(t, http.StatusOK, status, "%s", answer)
		require.True(t, time.Now().Before(deadline), "the endpoint of an unbound namespace still takes deliveries after 30 s")
		time.Sleep(200 * time.Millisecond)
	}
	k.run(t, "", "-n", "initech", "wait", "--for=jsonpath={.status.conditions[?(@.type=='Ready')].reason}=NamespaceNotBound",
		"webhookendpoint/initech-stripe", "--timeout=1m")

	k.run(t, "", "label", "namespace", "initech", "rekomi.io/organization=initech")
	k.run(t, "", "-n", "initech", "wait", "--for=condition=Ready", "webhookendpoint/initech-stripe", "--timeout=1m")
	require.Equal(t, org.stripe.url, k.get(t, "initech", "webhookendpoint/initech-stripe", ".status.url"), "the same URL")
	org.stripe.deliver(t, event())
}
