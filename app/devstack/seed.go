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
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Starter is what the first-click commands use: a campaign, an approved
// affiliate and its referral link in one organization, created through the
// merchant API like a merchant would.
type Starter struct {
	Org           Org
	AppURL        string
	CampaignID    string
	AffiliateID   string
	LinkCode      string
	LinkURL       string
	Currency      string
	AffiliateMail string
}

// Starter values; the Idempotency-Keys make a repeated seed a replay.
const (
	starterCode     = "launch"
	starterEmail    = "partner@example.com"
	starterCurrency = "EUR"
	starterKey      = "rekomi-dev-starter-"
)

// seedStarter creates the starter objects in the organization that owns a
// Stripe endpoint (else the first one).
func (s *Stack) seedStarter(ctx context.Context) error {
	org, app := s.starterOrg()
	if app == "" {
		return fmt.Errorf("no app serves the region of organization %s", org.Name)
	}
	api := apiClient{base: app, key: org.APIKey}
	st := Starter{Org: org, AppURL: app, LinkCode: starterCode, Currency: starterCurrency, AffiliateMail: starterEmail}
	kept, err := api.findLink(ctx, starterCode)
	if err != nil {
		return err
	}
	if kept != nil { // made by an earlier start
		st.CampaignID, st.AffiliateID, st.LinkURL = str(kept, "campaign_id"), str(kept, "affiliate_id"), str(kept, "url")
		s.Starter = &st
		return nil
	}
	var campaign, affiliate, link map[string]any
	steps := []struct {
		path, body string
		out        *map[string]any
	}{
		{"/v1/campaigns", `{"name":"Launch","currency":"` + starterCurrency + `","commission":{"type":"percentage","percent_bps":2000},"hold_days":0}`, &campaign},
		{"/v1/affiliates", `{"email":"` + starterEmail + `"}`, &affiliate},
	}
	for _, step := range steps {
		if err := api.post(ctx, step.path, step.body, step.out); err != nil {
			return err
		}
	}
	st.CampaignID, st.AffiliateID = str(campaign, "id"), str(affiliate, "id")
	invite, _ := affiliate["invite"].(map[string]any)
	if token := str(invite, "token"); token != "" {
		if err := api.post(ctx, "/v1/affiliates/accept", `{"token":"`+token+`"}`, nil); err != nil {
			return err
		}
	}
	if err := api.post(ctx, "/v1/affiliates/"+st.AffiliateID+"/approve", ``, nil); err != nil {
		return err
	}
	body := `{"affiliate_id":"` + st.AffiliateID + `","campaign_id":"` + st.CampaignID +
		`","destination_url":"https://shop.example.com/","code":"` + starterCode + `"}`
	if err := api.post(ctx, "/v1/links", body, &link); err != nil {
		return err
	}
	st.LinkURL = str(link, "url")
	s.Starter = &st
	return nil
}

// starterOrg is the organization of the first Stripe endpoint, or the first
// organization, with its app's URL.
func (s *Stack) starterOrg() (Org, string) {
	org := s.Orgs[0]
	for _, h := range s.Webhooks {
		if h.Provider != "stripe" {
			continue
		}
		for _, o := range s.Orgs {
			if o.Name == h.Organization {
				org = o
			}
		}
		break
	}
	for _, a := range s.Apps {
		if a.Region == org.Region {
			return org, a.URL
		}
	}
	return org, ""
}

func str(m map[string]any, key string) string {
	v, _ := m[key].(string)
	return v
}

// apiClient calls the merchant API with one organization's key.
type apiClient struct {
	base, key string
}

// findLink returns the link with code among the first page of links, or
// nil.
func (c apiClient) findLink(ctx context.Context, code string) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/links?limit=100", nil)
	if err != nil {
		return nil, err
	}
	var list struct {
		Data []map[string]any `json:"data"`
	}
	if err := c.do(req, &list); err != nil {
		return nil, err
	}
	for _, l := range list.Data {
		if str(l, "code") == code {
			return l, nil
		}
	}
	return nil, nil
}

// post sends body and decodes a 2xx answer into out (when not nil).
func (c apiClient) post(ctx context.Context, path, body string, out *map[string]any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", starterKey+strings.ReplaceAll(strings.Trim(path, "/"), "/", "-"))
	if out == nil {
		return c.do(req, nil)
	}
	return c.do(req, out)
}

// do sends req with the key and decodes a 2xx answer into out (when not
// nil).
func (c apiClient) do(req *http.Request, out any) error {
	what := req.Method + " " + req.URL.Path
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s: reading the answer: %w", what, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s: %s", what, resp.Status, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s: decoding the answer: %w", what, err)
	}
	return nil
}
