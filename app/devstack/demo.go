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
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	stripewebhook "github.com/stripe/stripe-go/v85/webhook"
)

// The demo's Stripe objects. The event ids are fixed, so a demo repeated
// on kept data is a replay the app ignores.
const (
	demoCustomer      = "cus_rekomi_dev_demo"
	demoInvoice       = "in_rekomi_dev_demo"
	demoCheckoutEvent = "evt_rekomi_dev_demo_checkout"
	demoInvoiceEvent  = "evt_rekomi_dev_demo_invoice"
	demoAmount        = 4900
	// browserUA makes the demo's click count as a person's: the app stores
	// clicks of command-line clients but never attributes them.
	browserUA = "Mozilla/5.0 (X11; Linux x86_64) rekomi-dev-demo"
)

// seedDemo follows the starter link as a browser (a click), then delivers
// the signed Stripe events of a checkout by that visitor and its paid
// invoice, which earn the affiliate a commission.
func (s *Stack) seedDemo(ctx context.Context) error {
	st := s.Starter
	hook := s.stripeWebhook(st.Org.Name)
	if hook == nil {
		return fmt.Errorf("organization %s has no Stripe WebhookEndpoint", st.Org.Name)
	}
	metricsURL := s.App(st.Org.Region).MetricsURL
	stored, err := ClicksStored(ctx, metricsURL)
	if err != nil {
		return err
	}
	visitor, err := click(ctx, st.LinkURL)
	if err != nil {
		return err
	}
	// The app writes clicks in batches; the checkout finds the visitor's
	// click once it is stored.
	err = poll(ctx, "the demo's click stored", func(ctx context.Context) (bool, string) {
		n, err := ClicksStored(ctx, metricsURL)
		if err != nil {
			return false, err.Error()
		}
		return n > stored, fmt.Sprintf("%v clicks stored, as before it", n)
	})
	if err != nil {
		return err
	}
	now := time.Now().Unix()
	events := []map[string]any{
		stripeEvent(demoCheckoutEvent, "checkout.session.completed", now, map[string]any{
			"id": "cs_rekomi_dev_demo", "object": "checkout.session", "client_reference_id": visitor,
			"customer": demoCustomer, "customer_details": map[string]any{"email": "buyer@example.com"},
			"amount_total": demoAmount, "currency": "eur", "mode": "subscription", "payment_status": "paid", "status": "complete",
		}),
		stripeEvent(demoInvoiceEvent, "invoice.paid", now+1, map[string]any{
			"id": demoInvoice, "object": "invoice", "customer": demoCustomer, "amount_paid": demoAmount, "currency": "eur",
			"status": "paid", "paid": true, "charge": "ch_rekomi_dev_demo", "payment_intent": "pi_rekomi_dev_demo",
			"status_transitions": map[string]any{"paid_at": now + 1},
		}),
	}
	for _, ev := range events {
		if err := deliverStripe(ctx, hook, ev); err != nil {
			return err
		}
	}
	return nil
}

func (s *Stack) stripeWebhook(org string) *Webhook {
	for i, h := range s.Webhooks {
		if h.Provider == "stripe" && h.Organization == org {
			return &s.Webhooks[i]
		}
	}
	return nil
}

// click follows link without following the redirect and returns the
// visitor id of the cookie the app set.
func click(ctx context.Context, link string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("User-Agent", browserUA)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Do(req)
	if err != nil {
		return "", fmt.Errorf("following %s: %w", link, err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "rk_vid" {
			return c.Value, nil
		}
	}
	return "", fmt.Errorf("following %s: %s without a visitor cookie", link, resp.Status)
}

// ClicksStored reads how many clicks an app has stored since it started,
// from its metrics at metricsURL (App.MetricsURL).
func ClicksStored(ctx context.Context, metricsURL string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("reading the metrics of %s: %w", metricsURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("reading the metrics of %s: %s", metricsURL, resp.Status)
	}
	const series = "rekomi_clicks_stored_total "
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("reading the metrics of %s: %w", metricsURL, err)
	}
	return 0, fmt.Errorf("the metrics of %s have no %s", metricsURL, strings.TrimSpace(series))
}

func stripeEvent(id, typ string, created int64, object map[string]any) map[string]any {
	return map[string]any{
		"id": id, "object": "event", "api_version": "2025-03-31.basil", "created": created, "livemode": false,
		"type": typ, "data": map[string]any{"object": object}, "pending_webhooks": 1,
		"request": map[string]any{"id": nil, "idempotency_key": nil},
	}
}

// deliverStripe posts event to the endpoint signed as Stripe signs.
func deliverStripe(ctx context.Context, hook *Webhook, event map[string]any) error {
	body, err := json.Marshal(event)
	if err != nil {
		return err
	}
	now := time.Now()
	sig := fmt.Sprintf("t=%d,v1=%x", now.Unix(), stripewebhook.ComputeSignature(now, body, hook.Secret))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("delivering %s: %w", event["type"], err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("delivering %s: %s: %s", event["type"], resp.Status, answer)
	}
	return nil
}
