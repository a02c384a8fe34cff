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

package webhook

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	svix "github.com/svix/svix-webhooks/go"
)

// svixHeaders are the names of a Svix delivery's id, timestamp and
// signatures: Svix's own spelling, then Standard Webhooks'.
var svixHeaders = [2][3]string{
	{"svix-id", "svix-timestamp", "svix-signature"},
	{"webhook-id", "webhook-timestamp", "webhook-signature"},
}

// svixDelivery is a Clerk delivery's signed headers.
type svixDelivery struct {
	id, timestamp, signatures string
	unix                      int64
}

// parseSvixHeaders reads the svix-* headers, or when none of them is there
// the webhook-* ones, and checks their form.
func parseSvixHeaders(header http.Header) (svixDelivery, error) {
	names := svixHeaders[0]
	if header.Get(names[0]) == "" && header.Get(names[1]) == "" && header.Get(names[2]) == "" {
		names = svixHeaders[1]
	}
	d := svixDelivery{id: header.Get(names[0]), timestamp: header.Get(names[1]), signatures: header.Get(names[2])}
	if d.id == "" || d.timestamp == "" || d.signatures == "" {
		return svixDelivery{}, Refuse(ReasonMissingHeader, "the %s, %s and %s headers are all required", names[0], names[1], names[2])
	}
	if !validText(d.id) {
		return svixDelivery{}, Refuse(ReasonMalformedHeader, "the message id is not 1 to 255 characters of text")
	}
	unix, ok := parseUnix(d.timestamp)
	if !ok {
		return svixDelivery{}, Refuse(ReasonMalformedHeader, "the timestamp is not decimal digits")
	}
	d.unix = unix
	return d, d.checkSignatures()
}

// checkSignatures requires between 1 and 16 space-separated signatures,
// one at least "v1,<base64>"; other versions are left for the library to
// ignore.
func (d svixDelivery) checkSignatures() error {
	sigs := strings.Fields(d.signatures)
	if len(sigs) > maxSignatures {
		return Refuse(ReasonMalformedHeader, "more than %d signatures", maxSignatures)
	}
	for _, s := range sigs {
		if v, mac, ok := strings.Cut(s, ","); ok && v == "v1" && mac != "" {
			return nil
		}
	}
	return Refuse(ReasonMalformedHeader, "no v1 signature")
}

// header is the delivery as the svix library reads it: only the headers
// checked here, in Svix's spelling.
func (d svixDelivery) header() http.Header {
	h := make(http.Header, 3)
	h.Set("svix-id", d.id)
	h.Set("svix-timestamp", d.timestamp)
	h.Set("svix-signature", d.signatures)
	return h
}

// verifyClerk checks a Svix delivery, then reads its event's type. The
// event id is Svix's message id, which a retry keeps.
func (e Endpoint) verifyClerk(header http.Header, body []byte, now time.Time) (Event, error) {
	id, err := e.verifySvix(header, body, now)
	if err != nil {
		return Event{}, err
	}
	return parseClerkEvent(id, body)
}

// verifySvix checks a Svix / Standard Webhooks delivery with the svix
// library: a v1 signature by one of the whsec_ secrets, then the timestamp
// within the endpoint's tolerance both ways (the library's own check has a
// fixed tolerance and clock, so it is not used). It returns the message id.
func (e Endpoint) verifySvix(header http.Header, body []byte, now time.Time) (string, error) {
	d, err := parseSvixHeaders(header)
	if err != nil {
		return "", err
	}
	h := d.header()
	signed := signedByAny(e.Secrets, func(secret string) bool {
		wh, err := svix.NewWebhook(secret)
		// The operator checks the format; a bad one signs nothing.
		return err == nil && wh.VerifyIgnoringTimestamp(body, h) == nil
	})
	if !signed {
		return "", Refuse(ReasonBadSignature, "no v1 signature matches any of the endpoint's %d secrets", len(e.Secrets))
	}
	if err := checkTimestamp(d.unix, now, e.Tolerance); err != nil {
		return "", err
	}
	return d.id, nil
}

// parseClerkEvent reads a verified Clerk body's type.
func parseClerkEvent(id string, body []byte) (Event, error) {
	var ev struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return Event{}, Refuse(ReasonMalformedEvent, "the body is not a JSON event: %s", err.Error())
	}
	if !validText(ev.Type) {
		return Event{}, Refuse(ReasonMalformedEvent, "the event has no type")
	}
	return Event{ID: id, Type: ev.Type, Document: body}, nil
}
