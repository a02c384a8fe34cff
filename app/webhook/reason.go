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
	"errors"
	"fmt"
)

// Reason says why a delivery was refused. It is for logs and metrics only:
// the sender is told nothing beyond the refusal.
type Reason string

// The reasons a delivery is refused.
const (
	ReasonMissingHeader    Reason = "missing_header"
	ReasonMalformedHeader  Reason = "malformed_header"
	ReasonBadSignature     Reason = "bad_signature"
	ReasonStaleTimestamp   Reason = "stale_timestamp"
	ReasonFutureTimestamp  Reason = "future_timestamp"
	ReasonMalformedEvent   Reason = "malformed_event"
	ReasonUnknownProvider  Reason = "unknown_provider"
	ReasonUnknownEndpoint  Reason = "unknown_endpoint"
	ReasonDisabledEndpoint Reason = "disabled_endpoint"
	// ReasonCancelledOrganization: the endpoint's organization is cancelled,
	// and so read-only.
	ReasonCancelledOrganization Reason = "organization_cancelled"
	ReasonWrongProvider         Reason = "wrong_provider"
	ReasonBodyTooLarge          Reason = "body_too_large"
	ReasonUnreadableBody        Reason = "unreadable_body"
)

// Reasons lists every reason, so each can be counted from zero.
func Reasons() []Reason {
	return []Reason{
		ReasonMissingHeader, ReasonMalformedHeader, ReasonBadSignature, ReasonStaleTimestamp,
		ReasonFutureTimestamp, ReasonMalformedEvent, ReasonUnknownProvider, ReasonUnknownEndpoint,
		ReasonDisabledEndpoint, ReasonCancelledOrganization, ReasonWrongProvider, ReasonBodyTooLarge, ReasonUnreadableBody,
	}
}

// Error is a refused delivery: its reason and a detail for the log, which
// never holds a secret or a signature.
type Error struct {
	Reason Reason
	Detail string
}

func (e *Error) Error() string {
	return fmt.Sprintf("webhook delivery refused (%s): %s", e.Reason, e.Detail)
}

// Refuse returns the refusal of a delivery for reason.
func Refuse(reason Reason, format string, args ...any) error {
	return &Error{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the reason err refused a delivery, and false when err is
// not a refusal (a failure of the receiver rather than of the delivery).
func ReasonOf(err error) (Reason, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason, true
	}
	return "", false
}
