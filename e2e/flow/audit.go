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

package flow

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

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

// CheckAuditTrail expects every step of the flow in the organization's
// audit log, in order, by the actor that took it, and a chain that
// verifies against its witness.
func CheckAuditTrail(t testing.TB, org Tenant, ref Referral, s Sale) {
	t.Helper()
	entries := List[auditEntry](t, org.API, "/v1/audit-log") // newest first
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
		{"operator:* organization.created organization:" + org.ID},
		{"operator:* api_key.created api_key:" + adminKey},
		{"operator:* webhook_endpoint.created webhook_endpoint:" + org.EndpointID},
		{merchant + " campaign.created campaign:" + ref.CampaignID},
		{merchant + " affiliate.invited affiliate:" + ref.AffiliateID},
		{merchant + " affiliate.accepted affiliate:" + ref.AffiliateID},
		{merchant + " affiliate.approved affiliate:" + ref.AffiliateID},
		{merchant + " link.created referral_link:" + ref.LinkID},
		{merchant + " promo_code.created promo_code:" + ref.PromoCodeID},
		{"provider:stripe billing_event.received billing_event:" + checkoutEvent,
			"provider:stripe customer.attributed customer:" + s.CustomerID},
		{"provider:stripe billing_event.received billing_event:" + invoiceEvent,
			"provider:stripe conversion.sale_tracked conversion:" + s.ConversionID},
		{"provider:stripe billing_event.received billing_event:" + refundEvent,
			"provider:stripe commission.reversed commission:" + s.CommissionID},
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
	checkChain(t, org.API, int64(len(entries)))
}

// checkChain expects the audit log's chain of entries entries to verify,
// all of them, and, within 2 minutes, to agree with its witness.
func checkChain(t testing.TB, api Merchant, entries int64) {
	t.Helper()
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
	api.Do(t, http.MethodGet, "/v1/audit-log/verify", "", http.StatusOK, &v)
	require.True(t, v.OK, "the chain verifies: %+v", v)
	require.Equal(t, entries, v.Verified, "every entry is verified")
	require.Equal(t, entries, v.HeadSeq)

	// The operator witnessed the chain when it provisioned the
	// organization; the witness reaches the app through its Region's
	// ConfigMaps, which the kubelet mounts (and rekomi dev mirrors as a
	// kubelet would).
	deadline := time.Now().Add(2 * time.Minute)
	for v.Witness.State != "agrees" {
		require.Contains(t, []string{"not_witnessed", "agrees"}, v.Witness.State, "%+v", v)
		require.True(t, time.Now().Before(deadline), "the chain is not checked against its witness after 2 minutes: %+v", v)
		time.Sleep(500 * time.Millisecond)
		api.Do(t, http.MethodGet, "/v1/audit-log/verify", "", http.StatusOK, &v)
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

// entryMatches says whether the entry got is want, whose actor id may be
// "*".
func entryMatches(got, want string) bool {
	actor, rest, _ := strings.Cut(want, " ")
	if kind, ok := strings.CutSuffix(actor, ":*"); ok {
		gotActor, gotRest, _ := strings.Cut(got, " ")
		return strings.HasPrefix(gotActor, kind+":") && gotRest == rest
	}
	return got == want
}

// CheckIsolation expects another organization of the same Region, on the
// same app and database, to find none of the new organization's objects:
// no list holds their ids and each is a 404 by id. The new organization
// sees none of the other's links either.
func CheckIsolation(t testing.TB, other Merchant, org Tenant, ref Referral, s Sale) {
	t.Helper()
	require.Equal(t, org.AppURL, other.Base, "both organizations are served by one app")
	ids := []string{org.ID, org.EndpointID, ref.CampaignID, ref.AffiliateID, ref.LinkID, ref.PromoCodeID, s.CustomerID, s.ConversionID,
		s.CommissionID}
	for _, path := range []string{"/v1/campaigns", "/v1/affiliates", "/v1/links", "/v1/promo-codes", "/v1/customers", "/v1/conversions",
		"/v1/commissions", "/v1/payouts", "/v1/audit-log"} {
		status, body := other.Call(t, http.MethodGet, path+"?limit=100", "")
		require.Equal(t, http.StatusOK, status, "%s: %s", path, body)
		for _, id := range ids {
			require.NotContains(t, string(body), id, "%s of another organization", path)
		}
		for _, external := range []string{stripeCustomer, stripeInvoice, checkoutEvent, invoiceEvent, refundEvent} {
			require.NotContains(t, string(body), external, "%s of another organization", path)
		}
	}
	for path, id := range map[string]string{"/v1/campaigns/": ref.CampaignID, "/v1/affiliates/": ref.AffiliateID,
		"/v1/links/": ref.LinkID, "/v1/promo-codes/": ref.PromoCodeID, "/v1/customers/": s.CustomerID, "/v1/conversions/": s.ConversionID,
		"/v1/commissions/": s.CommissionID} {
		status, body := other.Call(t, http.MethodGet, path+id, "")
		require.Equal(t, http.StatusNotFound, status, "GET %s%s by another organization: %s", path, id, body)
	}
	status, body := other.Call(t, http.MethodPost, "/v1/commissions/"+s.CommissionID+"/reverse", `{"reason":"not mine"}`)
	require.Equal(t, http.StatusNotFound, status, "reversing another organization's commission: %s", body)
	status, body = other.Call(t, http.MethodPost, "/v1/promo-codes/"+ref.PromoCodeID+"/disable", "")
	require.Equal(t, http.StatusNotFound, status, "disabling another organization's promo code: %s", body)

	links := List[Object](t, org.API, "/v1/links")
	require.Len(t, links, 1, "the new organization sees its own link only")
	require.Equal(t, ref.LinkID, links[0].ID)
}
