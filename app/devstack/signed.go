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
	"fmt"
	"strings"
)

// Signed deliveries: for each Paddle, Shopify and Braintree endpoint the
// summary prints a shell command that posts a sale to it, signed with the
// endpoint's secret at the moment the command runs, as the provider signs
// (a command signed once would go stale past the tolerance). The sale
// carries the starter link's code, so it earns the starter affiliate a
// commission. The command prints the HTTP status: 200 when the delivery
// was received. It needs bash, curl, openssl, base64 and sha1sum.

// SignedDelivery is the signed delivery command of h, for a sale of 100.00
// in currency carrying the link code ref, or "" for a provider without one.
func SignedDelivery(h Webhook, ref, currency string) string {
	post := `curl -s -o /dev/null -w '%{http_code}\n' ` + shellQuote(h.URL)
	now := `NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ); TS=$(date +%s); `
	switch h.Provider {
	case "paddle":
		body := fmt.Sprintf(`{"event_id":"evt_dev_'$TS'","event_type":"transaction.completed","occurred_at":"'$NOW'",`+
			`"notification_id":"ntf_dev_'$TS'","data":{"id":"txn_dev_'$TS'","status":"completed","customer_id":"ctm_dev_'$TS'",`+
			`"currency_code":%q,"billed_at":"'$NOW'","custom_data":{"rekomi_ref":%q},`+
			`"details":{"totals":{"total":"10000","grand_total":"10000","currency_code":%q}}}}`, currency, ref, currency)
		return now + `BODY='` + body + `'; ` + post + ` -H 'Content-Type: application/json' ` +
			`-H "Paddle-Signature: ts=$TS;h1=$(printf '%s' "$TS:$BODY" | openssl dgst -sha256 -hmac ` + shellQuote(h.Secret) +
			` -r | cut -d' ' -f1)" --data-binary "$BODY"`
	case "shopify":
		body := fmt.Sprintf(`{"id":'$TS',"email":"buyer@example.com","financial_status":"paid","total_price":"100.00","currency":%q,"processed_at":"'$NOW'",`+
			`"landing_site":"/?ref=%s","customer":{"id":'$TS',"email":"buyer@example.com"}}`, currency, ref)
		return now + `BODY='` + body + `'; ` + post + ` -H 'Content-Type: application/json' ` +
			`-H "X-Shopify-Hmac-Sha256: $(printf '%s' "$BODY" | openssl dgst -sha256 -hmac ` + shellQuote(h.Secret) + ` -binary | base64)" ` +
			`-H "X-Shopify-Webhook-Id: dev-$TS" -H 'X-Shopify-Topic: orders/paid' -H "X-Shopify-Triggered-At: $NOW" --data-binary "$BODY"`
	case "braintree":
		public, private, _ := strings.Cut(h.Secret, ":")
		xml := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?><notification><timestamp type="datetime">'$NOW'</timestamp>`+
			`<kind>transaction_disbursed</kind><subject><transaction><id>dev'$TS'</id><status>settled</status><amount>100.00</amount>`+
			`<currency-iso-code>%s</currency-iso-code><created-at type="datetime">'$NOW'</created-at>`+
			`<customer><id>dev'$TS'</id><email>buyer@example.com</email></customer>`+
			`<custom-fields><rekomi_ref>%s</rekomi_ref></custom-fields></transaction></subject></notification>`, currency, ref)
		return now + `PAYLOAD=$(printf '%s' '` + xml + `' | base64); ` +
			`SIG=$(printf '%s' "$PAYLOAD" | openssl dgst -sha1 -mac HMAC -macopt hexkey:$(printf '%s' ` + shellQuote(private) +
			` | sha1sum | cut -d' ' -f1) -r | cut -d' ' -f1); ` + post +
			` --data-urlencode "bt_signature=` + public + `|$SIG" --data-urlencode "bt_payload=$PAYLOAD"`
	}
	return ""
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
