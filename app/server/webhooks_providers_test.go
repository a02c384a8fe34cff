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
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/server"
)

// Deliveries of Paddle, Shopify and Braintree, signed here as each
// provider documents it, written apart from app/webhook's verifiers.

// signedDelivery is one delivery as a provider sends it, and the event id
// it must be stored under.
type signedDelivery struct {
	header  http.Header
	body    string
	eventID string
	// sale is the external id of the sale it records.
	sale string
}

// providerSigner makes deliveries of one provider.
type providerSigner struct {
	provider string
	// secrets are the endpoint's two secrets during a rotation.
	secrets [2]string
	// sign makes the delivery of the event named by name, sent at at and
	// signed with secret.
	sign func(name string, at time.Time, secret string) signedDelivery
	// storedType is the event type each delivery is stored with.
	storedType string
}

func providerSigners() []providerSigner {
	return []providerSigner{
		{
			provider:   "paddle",
			secrets:    [2]string{"pdl_ntfset_01hsdn8d43dt7mezr1ef2jtbaw_hKkRiCGyyRhbFwIUuqiTBgI7gnWoV0Gr", "pdl_ntfset_01hv8wptq8987qeep44e1xfv4s_5zyOrLH4iS1iHPZl7ihRUrMWFiKBmPMs"},
			sign:       paddleSigned,
			storedType: "transaction.completed",
		},
		{
			provider:   "shopify",
			secrets:    [2]string{"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", "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"},
			sign:       shopifySigned,
			storedType: "orders/paid",
		},
		{
			provider:   "braintree",
			secrets:    [2]string{"n8pcxm4cwbqnmp2v:5d0c19e5e8aa4d27b3a6d1b7c0e2f9a4", "q2hx7rtp9kd3mz5w:0f1e2d3c4b5a69788796a5b4c3d2e1f0"},
			sign:       braintreeSigned,
			storedType: "transaction_disbursed",
		},
	}
}

// Each signer's delivery is a sale of 49.00 EUR by a new customer, named
// by name, carrying the promo code SPRING (and no referral), as its
// provider writes one.

// paddleSigned signs as Paddle Billing does: h1 = hex HMAC-SHA256 of
// "ts:body".
func paddleSigned(name string, at time.Time, secret string) signedDelivery {
	id := "evt_" + name
	body := fmt.Sprintf(`{"event_id":%q,"event_type":"transaction.completed","occurred_at":%q,"notification_id":"ntf_1",`+
		`"data":{"id":"txn_%s","status":"completed","customer_id":"ctm_%s","currency_code":"EUR","billed_at":%q,`+
		`"custom_data":{"promo_code":"SPRING"},"details":{"totals":{"total":"4900","grand_total":"4900","currency_code":"EUR"}}}}`,
		id, at.UTC().Format(time.RFC3339), name, name, at.UTC().Format(time.RFC3339))
	return signedDelivery{header: paddleSignature(body, at, secret), body: body, eventID: id, sale: "paddle:txn_" + name}
}

// paddleSignature is the header Paddle signs body with at at.
func paddleSignature(body string, at time.Time, secret string) http.Header {
	ts := strconv.FormatInt(at.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + ":" + body))
	h := http.Header{}
	h.Set("Paddle-Signature", "ts="+ts+";h1="+hex.EncodeToString(m.Sum(nil)))
	return h
}

// shopifySigned signs as Shopify does: base64 HMAC-SHA256 of the body; the
// webhook id, topic and time travel unsigned beside it.
func shopifySigned(name string, at time.Time, secret string) signedDelivery {
	order := int64(crc32.ChecksumIEEE([]byte(name)))
	body := fmt.Sprintf(`{"id":%d,"name":%q,"email":"buyer@example.com","financial_status":"paid","total_price":"49.00","currency":"EUR","processed_at":%q,`+
		`"customer":{"id":%d,"email":"buyer@example.com"},"discount_codes":[{"code":"spring","amount":"5.00","type":"fixed_amount"}]}`,
		order, name, at.UTC().Format(time.RFC3339), order)
	id := uuid.NewSHA1(uuid.NameSpaceURL, []byte(name)).String()
	return signedDelivery{header: shopifyHeaders(body, id, at, secret), body: body, eventID: id,
		sale: "shopify:order:" + strconv.FormatInt(order, 10)}
}

// shopifyHeaders are the headers Shopify sends body of webhook id with.
func shopifyHeaders(body, id string, at time.Time, secret string) http.Header {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	h := http.Header{}
	h.Set("X-Shopify-Hmac-Sha256", base64.StdEncoding.EncodeToString(m.Sum(nil)))
	h.Set("X-Shopify-Webhook-Id", id)
	h.Set("X-Shopify-Topic", "orders/paid")
	h.Set("X-Shopify-Triggered-At", at.UTC().Format(time.RFC3339Nano))
	return h
}

// braintreeSigned signs as Braintree does: a form of bt_signature
// ("public|hex HMAC-SHA1 keyed with SHA-1 of the private key") and
// bt_payload (base64 of the notification's XML, line-broken).
func braintreeSigned(name string, at time.Time, secret string) signedDelivery {
	public, private, _ := strings.Cut(secret, ":")
	txn := strings.Map(func(r rune) rune { // Braintree's ids are letters and digits
		if r < '0' || r > 'z' || (r > '9' && r < 'a') {
			return -1
		}
		return r
	}, strings.ToLower(name))
	xml := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<notification>
  <timestamp type="datetime">%s</timestamp>
  <kind>transaction_disbursed</kind>
  <subject>
    <transaction>
      <id>%s</id>
      <status>settled</status>
      <amount>49.00</amount>
      <currency-iso-code>EUR</currency-iso-code>
      <created-at type="datetime">%s</created-at>
      <customer><id>%s</id><email>buyer@example.com</email></customer>
      <custom-fields><promo_code>SPRING</promo_code></custom-fields>
    </transaction>
  </subject>
</notification>
`, at.UTC().Format(time.RFC3339), txn, at.UTC().Format(time.RFC3339), txn)
	enc := base64.StdEncoding.EncodeToString([]byte(xml))
	var payload strings.Builder
	for len(enc) > 76 {
		payload.WriteString(enc[:76] + "\n")
		enc = enc[76:]
	}
	payload.WriteString(enc + "\n")
	key := sha1.Sum([]byte(private))
	m := hmac.New(sha1.New, key[:])
	m.Write([]byte(payload.String()))
	body := url.Values{"bt_signature": {public + "|" + hex.EncodeToString(m.Sum(nil))}, "bt_payload": {payload.String()}}.Encode()
	sum := sha256.Sum256([]byte(xml))
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	return signedDelivery{header: h, body: body, eventID: "bt_" + hex.EncodeToString(sum[:]), sale: "braintree:txn:" + txn}
}

// deliverSigned posts d to path and returns the answer's status, headers and body.
func (b *bundle) deliverSigned(t *testing.T, path string, d signedDelivery) delivery {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(d.body))
	require.NoError(t, err)
	req.Header = d.header.Clone()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return delivery{status: resp.StatusCode, header: resp.Header, body: got}
}

// TestProviderWebhooks receives each newer provider's deliveries against a
// real PostgreSQL: stored once with its receipt audited and its sale
// attributed by the promo code it carries, once only under 50 concurrent
// identical deliveries, under either secret of a rotation, and within the
// tolerance both ways.
func TestProviderWebhooks(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setupWebhooks(t, srv)
	org, _ := b.seedOrg(t, "acme", server.ScopeRead)
	promo := b.org(org).Partner(t, "")
	code := b.org(org).PromoCode(t, promo.Affiliate, promo.Campaign, "Spring")
	for _, p := range providerSigners() {
		ep := b.seedEndpoint(t, org, endpointSeed{provider: p.provider, secrets: p.secrets[:]})
		path := webhookPath(p.provider, ep)
		t.Run(p.provider, func(t *testing.T) {
			t.Run("StoresTheEventOnceAndAuditsItsReceipt", func(t *testing.T) {
				d := p.sign("once", time.Now(), p.secrets[1])
				got := b.deliverSigned(t, path, d)
				require.Equal(t, http.StatusOK, got.status)
				require.Empty(t, got.body)
				require.Equal(t, http.StatusOK, b.deliverSigned(t, path, d).status, "a replay is acknowledged")
				events, entries := b.countEvents(t, org, d.eventID)
				require.Equal(t, []int{1, 1}, []int{events, entries}, "stored and audited once")
				require.Equal(t, 1, b.org(org).Count(t, `SELECT count(*) FROM commissions cm JOIN conversions cv ON cv.org_id = cm.org_id
					AND cv.id = cm.conversion_id JOIN customers cu ON cu.org_id = cv.org_id AND cu.id = cv.customer_id
					WHERE cv.external_id = $1 AND cv.amount = 4900 AND cm.amount = 490 AND cm.affiliate_id = $2 AND cu.promo_code_id = $3`,
					d.sale, promo.Affiliate, code), "one sale, attributed by its promo code, earning one commission")

				ctx := context.Background()
				require.NoError(t, b.db.TenantTx(ctx, org, func(tx pgx.Tx) error {
					var provider, typ, actorID string
					var endpoint uuid.UUID
					require.NoError(t, tx.QueryRow(ctx, `SELECT e.provider, e.type, e.endpoint_id, a.actor_id FROM billing_events e
						JOIN audit_log a ON a.org_id = e.org_id AND a.target_id = e.event_id AND a.action = 'billing_event.received'
						WHERE e.event_id = $1`, d.eventID).Scan(&provider, &typ, &endpoint, &actorID))
					require.Equal(t, []string{p.provider, p.storedType, p.provider}, []string{provider, typ, actorID})
					require.Equal(t, ep, endpoint)
					return nil
				}))
			})

			t.Run("AcceptsEitherSecretDuringARotation", func(t *testing.T) {
				for i, secret := range p.secrets {
					d := p.sign(fmt.Sprintf("rotation-%d", i), time.Now(), secret)
					require.Equal(t, http.StatusOK, b.deliverSigned(t, path, d).status, "secret %d", i)
					events, _ := b.countEvents(t, org, d.eventID)
					require.Equal(t, 1, events)
				}
			})

			t.Run("FiftyConcurrentDeliveriesStoreOneEvent", func(t *testing.T) {
				d := p.sign("concurrent", time.Now(), p.secrets[0])
				statuses := make(chan int, 50)
				var wg sync.WaitGroup
				for range 50 {
					wg.Go(func() {
						req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(d.body))
						if err != nil {
							statuses <- 0
							return
						}
						req.Header = d.header.Clone()
						resp, err := http.DefaultClient.Do(req)
						if err != nil {
							statuses <- 0
							return
						}
						resp.Body.Close()
						statuses <- resp.StatusCode
					})
				}
				wg.Wait()
				close(statuses)
				for s := range statuses {
					require.Equal(t, http.StatusOK, s)
				}
				events, entries := b.countEvents(t, org, d.eventID)
				require.Equal(t, []int{1, 1}, []int{events, entries})
				require.Equal(t, 1, b.org(org).Count(t, `SELECT count(*) FROM commissions cm JOIN conversions cv ON cv.org_id = cm.org_id
					AND cv.id = cm.conversion_id WHERE cv.external_id = $1`, d.sale), "the sale earned once")
			})

			// The endpoint's tolerance is 300 s. The edges themselves are
			// the verifiers' tests; here each side is approached with a
			// margin for the time the delivery takes.
			t.Run("HoldsTheToleranceBothWays", func(t *testing.T) {
				for name, offset := range map[string]time.Duration{"past": -290 * time.Second, "future": 290 * time.Second} {
					d := p.sign("tolerated-"+name, time.Now().Add(offset), p.secrets[0])
					require.Equal(t, http.StatusOK, b.deliverSigned(t, path, d).status, name)
				}
				for name, offset := range map[string]time.Duration{"stale_timestamp": -310 * time.Second, "future_timestamp": 310 * time.Second} {
					d := p.sign("refused-"+name, time.Now().Add(offset), p.secrets[0])
					got := b.deliverSigned(t, path, d)
					require.Equal(t, http.StatusUnauthorized, got.status, name)
					require.Empty(t, got.body)
					events, _ := b.countEvents(t, org, d.eventID)
					require.Zero(t, events, name)
				}
			})
		})
	}
}

// TestSignedBodiesJSONBRefusesAsTheyCome: a signed delivery whose body
// jsonb would refuse (text a provider's customer typed: a NUL, invalid
// UTF-8; a number past numeric's range) is stored as jsonb takes it and
// takes effect, instead of failing, and being retried, for ever.
func TestSignedBodiesJSONBRefusesAsTheyCome(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setupWebhooks(t, srv)
	org, _ := b.seedOrg(t, "acme", server.ScopeRead)
	p := b.org(org).Partner(t, "")
	shopSecret, paddleSecret := providerSigners()[1].secrets[0], providerSigners()[0].secrets[0]
	shop := webhookPath("shopify", b.seedEndpoint(t, org, endpointSeed{provider: "shopify", secrets: []string{shopSecret}}))
	paddle := webhookPath("paddle", b.seedEndpoint(t, org, endpointSeed{provider: "paddle", secrets: []string{paddleSecret}}))
	for i, poison := range []string{`"gift for \u0000you"`, "\"caf\xe9\"", `"\ud800"`, `1e999999`} {
		t.Run(fmt.Sprintf("%d", i), func(t *testing.T) {
			now := time.Now()
			order := 4242000 + i
			body := fmt.Sprintf(`{"id":%d,"financial_status":"paid","total_price":"49.00","currency":"EUR","processed_at":%q,`+
				`"note":%s,"note_attributes":[{"name":"rekomi_ref","value":%q}],"customer":{"id":%d}}`,
				order, now.UTC().Format(time.RFC3339), poison, p.Code, order)
			id := uuid.NewString()
			d := signedDelivery{header: shopifyHeaders(body, id, now, shopSecret), body: body, eventID: id}
			require.Equal(t, http.StatusOK, b.deliverSigned(t, shop, d).status)
			require.Equal(t, http.StatusOK, b.deliverSigned(t, shop, d).status, "a replay is acknowledged")
			events, entries := b.countEvents(t, org, id)
			require.Equal(t, []int{1, 1}, []int{events, entries}, "stored and audited once")
			require.Equal(t, 1, b.org(org).Count(t, `SELECT count(*) FROM commissions cm JOIN conversions cv ON cv.org_id = cm.org_id
				AND cv.id = cm.conversion_id WHERE cv.external_id = $1 AND cm.amount = 490`, fmt.Sprintf("shopify:order:%d", order)),
				"the sale took effect")

			event := fmt.Sprintf("evt_poison_%d", i)
			body = fmt.Sprintf(`{"event_id":%q,"event_type":"transaction.completed","occurred_at":%q,"notification_id":"ntf_1",`+
				`"data":{"id":"txn_poison_%d","status":"completed","customer_id":"ctm_poison_%d","currency_code":"EUR","billed_at":%q,`+
				`"custom_data":{"rekomi_ref":%q,"note":%s},"details":{"totals":{"grand_total":"4900","currency_code":"EUR"}}}}`,
				event, now.UTC().Format(time.RFC3339), i, i, now.UTC().Format(time.RFC3339), p.Code, poison)
			require.Equal(t, http.StatusOK, b.deliverSigned(t, paddle, signedDelivery{header: paddleSignature(body, now, paddleSecret), body: body}).status)
			events, _ = b.countEvents(t, org, event)
			require.Equal(t, 1, events)
			require.Equal(t, 1, b.org(org).Count(t, `SELECT count(*) FROM commissions cm JOIN conversions cv ON cv.org_id = cm.org_id
				AND cv.id = cm.conversion_id WHERE cv.external_id = $1`, fmt.Sprintf("paddle:txn_poison_%d", i)), "the sale took effect")
		})
	}
}

// TestProviderWebhookRefusals: for each newer provider, every class of
// refusal answers the very empty 401 a refused Stripe delivery gets, stores
// nothing, and is told apart in the log and the metrics only.
func TestProviderWebhookRefusals(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setupWebhooks(t, srv)
	org, _ := b.seedOrg(t, "acme", server.ScopeRead)
	stripeEP := b.seedEndpoint(t, org, endpointSeed{provider: "stripe", secrets: []string{stripeSecret}})
	stripeBody := stripeEvent("evt_reference", "invoice.paid")
	reference := b.deliver(t, webhookPath("stripe", stripeEP), stripeSigned(time.Now().Unix(), stripeBody, "whsec_wrong"), stripeBody)
	require.Equal(t, http.StatusUnauthorized, reference.status)
	reference.header.Del("Date")

	signers := providerSigners()
	endpoints := map[string]uuid.UUID{}
	for _, p := range signers {
		endpoints[p.provider] = b.seedEndpoint(t, org, endpointSeed{provider: p.provider, secrets: p.secrets[:1]})
	}
	for i, p := range signers {
		other := signers[(i+1)%len(signers)]
		path := webhookPath(p.provider, endpoints[p.provider])
		fresh := func() signedDelivery { return p.sign("refused", time.Now(), p.secrets[0]) }
		cases := map[string]struct {
			reason, path string
			delivery     func() signedDelivery
		}{
			"unknown endpoint":            {"unknown_endpoint", webhookPath(p.provider, uuid.New()), fresh},
			"another provider's endpoint": {"wrong_provider", webhookPath(p.provider, endpoints[other.provider]), fresh},
			"another provider's delivery": {"", path, func() signedDelivery {
				return other.sign("refused", time.Now(), other.secrets[0])
			}},
			"signed with a secret the endpoint does not hold": {"bad_signature", path, func() signedDelivery {
				return p.sign("refused", time.Now(), p.secrets[1])
			}},
			"a body changed after signing": {"bad_signature", path, func() signedDelivery {
				d := fresh()
				if p.provider != "braintree" {
					d.body = strings.Replace(d.body, "refused", "refusex", 1)
					return d
				}
				// Another notification under this one's signature.
				form, _ := url.ParseQuery(d.body)
				changed, _ := url.ParseQuery(p.sign("refusex", time.Now(), p.secrets[0]).body)
				form.Set("bt_payload", changed.Get("bt_payload"))
				d.body = form.Encode()
				return d
			}},
			"no signature": {"missing_header", path, func() signedDelivery {
				d := fresh()
				d.header.Del("Paddle-Signature")
				d.header.Del("X-Shopify-Hmac-Sha256")
				if p.provider == "braintree" {
					form, _ := url.ParseQuery(d.body)
					form.Del("bt_signature")
					d.body = form.Encode()
				}
				return d
			}},
			"stale": {"stale_timestamp", path, func() signedDelivery { return p.sign("refused", time.Now().Add(-400*time.Second), p.secrets[0]) }},
			"early": {"future_timestamp", path, func() signedDelivery { return p.sign("refused", time.Now().Add(400*time.Second), p.secrets[0]) }},
		}
		for name, tc := range cases {
			d := tc.delivery()
			d.header.Set(server.RequestIDHeader, "same-request-id-for-every-refusal")
			reference.header.Set(server.RequestIDHeader, "same-request-id-for-every-refusal")
			got := b.deliverSigned(t, tc.path, d)
			require.Equal(t, http.StatusUnauthorized, got.status, "%s: %s", p.provider, name)
			require.Empty(t, got.body, "%s: %s", p.provider, name)
			got.header.Del("Date")
			require.Equal(t, reference.header, got.header, "%s: %s: the same headers as any refusal", p.provider, name)
			if tc.reason != "" {
				require.Contains(t, b.logs.String(), `"provider":"`+p.provider+`","reason":"`+tc.reason+`"`, "%s: %s", p.provider, name)
			}
			events, entries := b.countEvents(t, org, d.eventID)
			require.Equal(t, []int{0, 0}, []int{events, entries}, "%s: %s: a refusal stores nothing", p.provider, name)
		}
		metrics, err := io.ReadAll(b.metrics(t).Body)
		require.NoError(t, err)
		for _, reason := range []string{"unknown_endpoint", "wrong_provider", "bad_signature", "missing_header", "stale_timestamp", "future_timestamp"} {
			require.NotContains(t, string(metrics), fmt.Sprintf(`rekomi_webhook_refused_total{provider=%q,reason=%q} 0`, p.provider, reason),
				"%s: %s is counted", p.provider, reason)
		}
		require.NotContains(t, b.logs.String(), p.secrets[0], "no secret is logged")
	}
}

// TestStripePromoCodeThroughTheWebhook: a Stripe checkout that carries a
// promo code and no referral attributes its customer to the code's
// affiliate, through signed deliveries to the webhook route, and the paid
// invoice earns in the code's campaign; another organization's SPRING is
// not this one's.
func TestStripePromoCodeThroughTheWebhook(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setupWebhooks(t, srv)
	org, _ := b.seedOrg(t, "acme", server.ScopeRead)
	other, _ := b.seedOrg(t, "globex", server.ScopeRead)
	theirs := b.org(other).Partner(t, "")
	b.org(other).PromoCode(t, theirs.Affiliate, theirs.Campaign, "SPRING")
	ep := b.seedEndpoint(t, org, endpointSeed{provider: "stripe", secrets: []string{stripeSecret}})
	deliver := func(body string) {
		t.Helper()
		d := b.deliver(t, webhookPath("stripe", ep), stripeSigned(time.Now().Unix(), body, stripeSecret), body)
		require.Equal(t, http.StatusOK, d.status)
	}
	checkout := `{"id":"evt_checkout_promo","object":"event","api_version":"2025-03-31.basil","type":"checkout.session.completed",
		"data":{"object":{"id":"cs_1","object":"checkout.session","customer":"cus_promo","metadata":{"promo_code":"spring"}}}}`
	invoice := fmt.Sprintf(`{"id":"evt_invoice_promo","object":"event","api_version":"2025-03-31.basil","type":"invoice.paid","created":%d,
		"data":{"object":{"id":"in_promo","object":"invoice","customer":"cus_promo","amount_paid":4900,"currency":"eur"}}}`, time.Now().Unix())

	deliver(checkout)
	deliver(invoice)
	require.Zero(t, b.org(org).Count(t, `SELECT count(*) FROM commissions`), "no code of this organization is SPRING yet")

	mine := b.org(org).Partner(t, "")
	code := b.org(org).PromoCode(t, mine.Affiliate, mine.Campaign, "SPRING")
	deliver(strings.ReplaceAll(strings.ReplaceAll(checkout, "cus_promo", "cus_promo2"), "evt_checkout_promo", "evt_checkout_promo2"))
	deliver(strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(invoice, "cus_promo", "cus_promo2"), "evt_invoice_promo", "evt_invoice_promo2"),
		"in_promo", "in_promo2"))
	require.Equal(t, 1, b.org(org).Count(t, `SELECT count(*) FROM commissions cm JOIN conversions cv ON cv.org_id = cm.org_id
		AND cv.id = cm.conversion_id JOIN customers cu ON cu.org_id = cv.org_id AND cu.id = cv.customer_id
		WHERE cv.external_id = 'in_promo2' AND cm.amount = 490 AND cm.affiliate_id = $1 AND cm.campaign_id = $2 AND cu.promo_code_id = $3`,
		mine.Affiliate, mine.Campaign, code))
	require.Zero(t, b.org(other).Count(t, `SELECT count(*) FROM customers`), "nothing reached the other organization")
}
