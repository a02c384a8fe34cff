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

package billing

import (
	"context"
	"encoding/json"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/ledger"
)

// Shopify effects, read from the REST resource each webhook delivers as
// its body (the order, refund or dispute itself), under the topic that
// X-Shopify-Topic names:
//
//   - orders/paid records a sale: its total_price, in minor units of the
//     shop's currency, processed at processed_at, by its customer
//     ("shopify:customer:<id>", or the order itself for a guest checkout),
//     once per order ("shopify:order:<id>").
//   - refunds/create takes back what the refund's successful refund
//     transactions returned ("shopify:refund:<id>"); a refund that only
//     restocks takes nothing. A refund in the order's presentment currency
//     takes its share in the shop's (inShopMoney).
//   - disputes/create and disputes/update open, win or lose a Shopify
//     Payments chargeback of the order ("shopify:dispute:<id>"); an
//     inquiry withdraws no funds, so it takes nothing.
//
// The referral is the order's note attribute rekomi_ref (or referral), as
// a storefront's cart attributes set it, else the ref (or rekomi_ref)
// parameter of its landing_site. The promo codes are the order's discount
// codes, in order.
//
// Shopify's HMAC covers the body alone: the topic and the webhook id
// travel unsigned beside it (see app/webhook). So an order records a sale
// only when its own financial_status says it was paid (a captured
// orders/create body delivered again as orders/paid records nothing), a
// body under a topic not its own lacks what that topic reads, and a body
// delivered again under a new webhook id changes nothing: a sale is
// recorded once per order, a refund once per refund, and a dispute's
// report that it is open leaves it won or lost once it is.

// shopifyEffect is the effect of a Shopify topic, or nil.
func (fx *Effects) shopifyEffect(topic string) effect {
	switch topic {
	case shopifyOrderTopic:
		return fx.shopifyOrderPaid
	case shopifyRefundTopic, "disputes/create", "disputes/update":
		return fx.shopifyReduced
	}
	return nil
}

// shopifyRefundTopic and shopifyDisputeTopics are the topics whose bodies
// name a sale's reductions by its order_id, for finding them when the sale
// comes later; shopifyOrderTopic's body is the sale, found by its id.
const (
	shopifyOrderTopic  = "orders/paid"
	shopifyRefundTopic = "refunds/create"
)

var shopifyDisputeTopics = []string{"disputes/create", "disputes/update"}

// shopifyPaidStatuses are the financial statuses of an order that was
// paid: refunds after its payment leave it so.
var shopifyPaidStatuses = []string{"paid", "partially_refunded", "refunded"}

// shopifyOrder is what orders/paid reads of an order.
type shopifyOrder struct {
	ID              json.Number `json:"id"`
	Email           string      `json:"email"`
	FinancialStatus string      `json:"financial_status"`
	TotalPrice      string      `json:"total_price"`
	Currency        string      `json:"currency"`
	ProcessedAt     string      `json:"processed_at"`
	CreatedAt       string      `json:"created_at"`
	LandingSite     string      `json:"landing_site"`
	NoteAttributes  []struct {
		Name  string `json:"name"`
		Value any    `json:"value"`
	} `json:"note_attributes"`
	DiscountCodes []struct {
		Code string `json:"code"`
	} `json:"discount_codes"`
	Customer *struct {
		ID    json.Number `json:"id"`
		Email string      `json:"email"`
	} `json:"customer"`
}

// shopifyOrderTotals is what an order says it cost, in the shop's currency
// and in its presentment currency (the one its customer paid in).
type shopifyOrderTotals struct {
	TotalPrice    string `json:"total_price"`
	Currency      string `json:"currency"`
	TotalPriceSet struct {
		PresentmentMoney struct {
			Amount       string `json:"amount"`
			CurrencyCode string `json:"currency_code"`
		} `json:"presentment_money"`
	} `json:"total_price_set"`
}

// shopifyRefund is what refunds/create reads of a refund.
type shopifyRefund struct {
	ID           json.Number `json:"id"`
	OrderID      json.Number `json:"order_id"`
	Transactions []struct {
		Kind     string `json:"kind"`
		Status   string `json:"status"`
		Amount   string `json:"amount"`
		Currency string `json:"currency"`
	} `json:"transactions"`
}

// shopifyDispute is what disputes/create and disputes/update read of a
// dispute.
type shopifyDispute struct {
	ID       json.Number `json:"id"`
	OrderID  json.Number `json:"order_id"`
	Type     string      `json:"type"`
	Amount   string      `json:"amount"`
	Currency string      `json:"currency"`
	Status   string      `json:"status"`
}

func (fx *Effects) shopifyOrderPaid(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event) error {
	s, err := shopifySaleOf(ev.Payload)
	if err != nil {
		return err
	}
	return fx.recordSale(ctx, tx, org, ev, s, storedShopifyReductions)
}

// shopifySaleOf reads a paid order as the sale it is.
func shopifySaleOf(payload []byte) (providerSale, error) {
	var o shopifyOrder
	if err := json.Unmarshal(payload, &o); err != nil {
		return providerSale{}, unusable("the payload is not a Shopify order: %w", err)
	}
	id, ok := shopifyID(o.ID)
	if !ok {
		return providerSale{}, unusable("the order has no id")
	}
	if !slices.Contains(shopifyPaidStatuses, o.FinancialStatus) {
		return providerSale{}, unusable("order %s is not paid (financial_status %q)", id, o.FinancialStatus)
	}
	amount, currency, err := shopifyMinorUnits(o.TotalPrice, o.Currency)
	if err != nil {
		return providerSale{}, unusable("order %s has no total: %w", id, err)
	}
	s := providerSale{customer: "shopify:order:" + id, sale: "shopify:order:" + id, email: optionalEmail(o.Email),
		referral: shopifyReferral(o), promo: shopifyPromoCodes(o), amount: amount, currency: currency,
		at: shopifyTime(o.ProcessedAt, o.CreatedAt)}
	if o.Customer != nil {
		if customer, ok := shopifyID(o.Customer.ID); ok {
			s.customer = "shopify:customer:" + customer
		}
		if email := optionalEmail(o.Customer.Email); email != nil {
			s.email = email
		}
	}
	return s, nil
}

func (fx *Effects) shopifyReduced(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event) error {
	sale, r, ok, err := shopifyReductionOf(ev.Type, ev.Payload)
	if err != nil || !ok {
		return err
	}
	// The lock first: an order committing meanwhile is then seen, in the
	// currency conversion and in the ledger alike.
	if err := lockPaymentEffects(ctx, tx, org); err != nil {
		return err
	}
	o, err := storedShopifyOrder(ctx, tx, org, sale)
	if err != nil {
		return err
	}
	if r, err = inShopMoney(o, sale, r); err != nil {
		return err
	}
	return fx.reduceProviderSale(ctx, tx, org, ev, sale, r)
}

// storedShopifyOrder reads the stored order of sale's totals, or nil when
// the order is not stored yet.
func storedShopifyOrder(ctx context.Context, tx pgx.Tx, org uuid.UUID, sale string) (*shopifyOrderTotals, error) {
	doc, err := json.Marshal(map[string]any{"id": json.Number(strings.TrimPrefix(sale, "shopify:order:"))})
	if err != nil {
		return nil, unusable("encoding a containment document: %w", err)
	}
	found, err := storedEventsOf(ctx, tx, org, "shopify", []string{shopifyOrderTopic}, doc)
	if err != nil || len(found) == 0 {
		return nil, err
	}
	var o shopifyOrderTotals
	if json.Unmarshal(found[0], &o) != nil {
		return nil, nil
	}
	return &o, nil
}

// inShopMoney gives r, a reduction of order o of sale, in the shop's
// currency, which the sale is recorded in. A multi-currency shop refunds
// in the order's presentment currency, the one its customer paid in: such
// a reduction takes the same share of the order's shop total as it is of
// its presentment total, rounded half up, as the order's own two totals
// say. A reduction in the shop's currency, or of an order not stored yet
// (o nil: the order converts it when it comes), is returned as it is.
func inShopMoney(o *shopifyOrderTotals, sale string, r ledger.Reduction) (ledger.Reduction, error) {
	if o == nil || strings.EqualFold(o.Currency, r.Currency) {
		return r, nil
	}
	presented := o.TotalPriceSet.PresentmentMoney
	if !strings.EqualFold(presented.CurrencyCode, r.Currency) {
		return r, nil // the ledger refuses a reduction in a third currency
	}
	shopTotal, shopCurrency, err := shopifyMinorUnits(o.TotalPrice, o.Currency)
	if err != nil {
		return r, unusable("%s has no total in the shop's currency: %w", sale, err)
	}
	presentedTotal, _, err := shopifyMinorUnits(presented.Amount, presented.CurrencyCode)
	if err != nil || presentedTotal <= 0 {
		return r, unusable("%s has no total in its presentment currency %s", sale, presented.CurrencyCode)
	}
	amount := ledger.ShareOf(shopTotal, r.Amount, presentedTotal)
	if amount == 0 {
		return r, unusable("the %s %s of %d %s is less than a cent of %s", r.Kind, r.Source, r.Amount, r.Currency, shopCurrency)
	}
	r.Metadata = maps.Clone(r.Metadata)
	r.Metadata["presentment_amount"], r.Metadata["presentment_currency"] = r.Amount, r.Currency
	r.Amount, r.Currency = amount, shopCurrency
	return r, nil
}

// shopifyReductionOf reads the refund or dispute a body of topic is: the
// sale it reduces and how, and whether it reduces anything.
func shopifyReductionOf(topic string, payload []byte) (sale string, r ledger.Reduction, ok bool, err error) {
	if topic == shopifyRefundTopic {
		return shopifyRefundOf(payload)
	}
	return shopifyDisputeOf(payload)
}

// shopifyRefundOf reads a refund: what its successful refund transactions
// returned, in their one currency.
func shopifyRefundOf(payload []byte) (sale string, r ledger.Reduction, ok bool, err error) {
	var rf shopifyRefund
	if err := json.Unmarshal(payload, &rf); err != nil {
		return "", r, false, unusable("the payload is not a Shopify refund: %w", err)
	}
	id, okID := shopifyID(rf.ID)
	order, okOrder := shopifyID(rf.OrderID)
	if !okID || !okOrder {
		return "", r, false, unusable("the refund has no id or no order")
	}
	r = ledger.Reduction{Kind: ledger.Refund, Source: "shopify:refund:" + id, State: ledger.ReductionRefunded,
		Metadata: map[string]any{"shopify_refund": id, "shopify_order": order}}
	for _, t := range rf.Transactions {
		if t.Kind != "refund" || t.Status != "success" {
			continue // a failed or pending refund returned nothing
		}
		amount, currency, err := shopifyMinorUnits(t.Amount, t.Currency)
		if err != nil {
			return "", r, false, unusable("refund %s has a transaction without an amount: %w", id, err)
		}
		if r.Currency != "" && r.Currency != currency {
			return "", r, false, unusable("refund %s returned both %s and %s", id, r.Currency, currency)
		}
		r.Amount, r.Currency = r.Amount+amount, currency
	}
	if r.Amount == 0 {
		return "", r, false, nil // a restock, or a refund of nothing
	}
	return "shopify:order:" + order, r, true, nil
}

// shopifyDisputeStates are the states of a chargeback by its status: open
// while the bank decides; won when it did for the merchant, or when the
// chargeback was prevented (Visa's Rapid Dispute Resolution: a refund is
// made instead) or settled by refunding the charge (charge_refunded): those
// refunds come as refunds/create and take their own share, so the dispute
// takes nothing; lost when the customer keeps the funds.
var shopifyDisputeStates = map[string]string{
	"needs_response": ledger.DisputeOpen, "under_review": ledger.DisputeOpen,
	"won": ledger.DisputeWon, "prevented": ledger.DisputeWon, "charge_refunded": ledger.DisputeWon,
	"lost": ledger.DisputeLost, "accepted": ledger.DisputeLost,
}

// shopifyDisputeOf reads a dispute (shopifyDisputeStates). X-Shopify-Topic
// is not signed, so the body must be a dispute's by its own fields: a type
// of chargeback or inquiry and a dispute's status; another resource's body
// (a transaction's also has an order_id, an amount and a status) resent
// under a dispute topic is unusable.
func shopifyDisputeOf(payload []byte) (sale string, r ledger.Reduction, ok bool, err error) {
	var d shopifyDispute
	if err := json.Unmarshal(payload, &d); err != nil {
		return "", r, false, unusable("the payload is not a Shopify dispute: %w", err)
	}
	id, okID := shopifyID(d.ID)
	order, okOrder := shopifyID(d.OrderID)
	if !okID || !okOrder {
		return "", r, false, unusable("the dispute has no id or no order")
	}
	state, known := shopifyDisputeStates[d.Status]
	switch {
	case d.Type != "chargeback" && d.Type != "inquiry", !known:
		return "", r, false, unusable("the body is not a Shopify dispute (type %q, status %q)", d.Type, d.Status)
	case d.Type == "inquiry":
		return "", r, false, nil // the bank asks questions; no funds are withdrawn yet
	}
	amount, currency, err := shopifyMinorUnits(d.Amount, d.Currency)
	if err != nil {
		return "", r, false, unusable("dispute %s has no amount: %w", id, err)
	}
	r = ledger.Reduction{Kind: ledger.Dispute, Source: "shopify:dispute:" + id, Amount: amount, Currency: currency, State: state,
		Metadata: map[string]any{"shopify_dispute": id, "shopify_order": order, "shopify_dispute_status": d.Status}}
	return "shopify:order:" + order, r, true, nil
}

// storedShopifyReductions finds the refunds and disputes stored for sale,
// by their order_id: a JSON number, as Shopify's bodies have it.
func storedShopifyReductions(ctx context.Context, tx pgx.Tx, org uuid.UUID, sale string) ([]ledger.Reduction, error) {
	order, ok := shopifyID(json.Number(strings.TrimPrefix(sale, "shopify:order:")))
	if !ok {
		return nil, nil
	}
	doc, err := json.Marshal(map[string]any{"order_id": json.Number(order)})
	if err != nil {
		return nil, unusable("encoding a containment document: %w", err)
	}
	o, err := storedShopifyOrder(ctx, tx, org, sale)
	if err != nil {
		return nil, err
	}
	var out []ledger.Reduction
	for _, topics := range [][]string{{shopifyRefundTopic}, shopifyDisputeTopics} {
		found, err := storedEventsOf(ctx, tx, org, "shopify", topics, doc)
		if err != nil {
			return nil, err
		}
		for _, payload := range found {
			s, r, ok, err := shopifyReductionOf(topics[0], payload)
			if err != nil || !ok || s != sale {
				continue
			}
			if r, err = inShopMoney(o, sale, r); err == nil {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// shopifyID is n, a Shopify id (a positive 64-bit integer), in decimal,
// and whether it is one.
func shopifyID(n json.Number) (string, bool) {
	id, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil || id <= 0 {
		return "", false
	}
	return strconv.FormatInt(id, 10), true
}

// shopifyMinorUnits reads a Shopify decimal amount into minor units of
// code, allowing its fraction zeros past the currency's decimals
// ("4900.00" yen is 4900).
func shopifyMinorUnits(amount, code string) (int64, string, error) {
	units, currency, err := minorUnits(amount, code)
	whole, frac, ok := strings.Cut(strings.TrimSpace(amount), ".")
	if err == nil || !ok || strings.TrimRight(frac, "0") == frac {
		return units, currency, err
	}
	if units, currency, trimmedErr := minorUnits(whole+"."+strings.TrimRight(frac, "0"), code); trimmedErr == nil {
		return units, currency, nil
	}
	return 0, "", err
}

// shopifyReferral is the referral an order carries: its note attribute
// rekomi_ref (or referral), else its landing site's.
func shopifyReferral(o shopifyOrder) string {
	for _, name := range []string{"rekomi_ref", "referral"} {
		for _, a := range o.NoteAttributes {
			if v, ok := a.Value.(string); ok && a.Name == name && optionalText(v) != "" {
				return optionalText(v)
			}
		}
	}
	return shopifyLandingRef(o.LandingSite)
}

// shopifyLandingRef is the ref (or rekomi_ref) parameter of the query of
// landing, the path or URL the buyer landed on; the parameters that do not
// decode are skipped, the others still read.
func shopifyLandingRef(landing string) string {
	_, query, ok := strings.Cut(landing, "?")
	if !ok {
		return ""
	}
	query, _, _ = strings.Cut(query, "#")
	params, _ := url.ParseQuery(query) // every parameter that decodes, whatever error the others give
	for _, k := range []string{"ref", "rekomi_ref"} {
		if v := optionalText(params.Get(k)); v != "" {
			return v
		}
	}
	return ""
}

// shopifyPromoCodes are the codes of an order's discounts, in order.
func shopifyPromoCodes(o shopifyOrder) []string {
	var codes []string
	for _, d := range o.DiscountCodes {
		if code := optionalText(d.Code); code != "" {
			codes = append(codes, code)
		}
	}
	return codes
}

// shopifyTime is the first of times that is an RFC 3339 time, or now.
func shopifyTime(times ...string) time.Time {
	for _, v := range times {
		if at, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return at.UTC()
		}
	}
	return time.Now().UTC()
}
