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
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// Referral is a campaign, an approved affiliate, its link and its promo
// code.
type Referral struct {
	CampaignID, AffiliateID, LinkID, PromoCodeID string
	// Code is the link's code, LinkURL the URL a visitor follows.
	Code, LinkURL string
}

// Object is what the flow reads of the merchant API's campaigns,
// affiliates and links.
type Object struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Code   string `json:"code"`
	URL    string `json:"url"`
	Invite struct {
		Token string `json:"token"`
	} `json:"invite"`
}

// SetUpReferral creates a 20% campaign, whose commissions are held for 30
// days (pending while the test runs), invites an affiliate, who accepts,
// approves it, and creates its referral link to the organization's
// site, <name>.example, and its promo code SPRING, as a merchant would.
func SetUpReferral(t testing.TB, org Tenant) Referral {
	t.Helper()
	var campaign, affiliate, approved, link, promo Object
	org.API.Do(t, http.MethodPost, "/v1/campaigns",
		`{"name":"Spring launch","currency":"EUR","commission":{"type":"percentage","percent_bps":2000},"hold_days":30}`,
		http.StatusCreated, &campaign)
	org.API.Do(t, http.MethodPost, "/v1/affiliates", `{"email":"ada@partner.example"}`, http.StatusCreated, &affiliate)
	require.NotEmpty(t, affiliate.Invite.Token, "the invite token is shown once")
	org.API.Do(t, http.MethodPost, "/v1/affiliates/accept", `{"token":"`+affiliate.Invite.Token+`"}`, http.StatusOK, nil)
	org.API.Do(t, http.MethodPost, "/v1/affiliates/"+affiliate.ID+"/approve", "", http.StatusOK, &approved)
	require.Equal(t, "active", approved.Status)
	org.API.Do(t, http.MethodPost, "/v1/links", `{"affiliate_id":"`+affiliate.ID+`","campaign_id":"`+campaign.ID+
		`","destination_url":"https://`+org.Name+`.example/pricing?plan=pro"}`, http.StatusCreated, &link)
	require.Equal(t, org.AppURL+"/r/"+link.Code, link.URL)
	org.API.Do(t, http.MethodPost, "/v1/promo-codes", `{"code":"SPRING","affiliate_id":"`+affiliate.ID+`","campaign_id":"`+campaign.ID+`"}`,
		http.StatusCreated, &promo)
	require.Equal(t, "SPRING", promo.Code)
	return Referral{CampaignID: campaign.ID, AffiliateID: affiliate.ID, LinkID: link.ID, PromoCodeID: promo.ID, Code: link.Code,
		LinkURL: link.URL}
}

// ClickLink follows the link as a browser, expects a redirect to the
// destination with the code and a visitor cookie, waits until the app has
// stored the click, and returns the visitor id.
func ClickLink(t testing.TB, org Tenant, ref Referral) string {
	t.Helper()
	stored := org.App.Metric(t, "rekomi_clicks_stored_total")
	jar := NewJar(t)
	resp := Click(t, org.App.Client, ref.LinkURL, jar)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	dest, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, org.Name+".example", dest.Host)
	require.Equal(t, ref.Code, dest.Query().Get("ref"))
	require.Equal(t, "pro", dest.Query().Get("plan"), "the destination's query is kept")
	visitor := Cookie(t, jar, org.AppURL, "rk_vid")
	require.Len(t, visitor, 36, "the visitor cookie holds a UUID")
	// The app stores clicks in batches; the checkout must find this one.
	org.App.WaitMetric(t, "rekomi_clicks_stored_total", stored+1)
	return visitor
}
