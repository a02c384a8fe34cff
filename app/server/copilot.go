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

package server

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/ledger"
)

// copilotActionInput is an action a merchant's co-pilot (an assistant acting
// through the merchant's API key) took or proposed, recorded so that the
// audit log shows what was done by software on someone's behalf.
type copilotActionInput struct {
	Action   *string         `json:"action"`
	Target   *audit.Ref      `json:"target"`
	Summary  *string         `json:"summary"`
	Model    *string         `json:"model"`
	Metadata json.RawMessage `json:"metadata"`
}

var (
	copilotActionPattern = regexp.MustCompile(`^[a-z][a-z_]{0,39}$`)
	copilotTypePattern   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
)

// maxCopilotMetadata bounds the caller's metadata so that the entry, with
// the summary beside it, stays within the audit log's metadata limit.
const maxCopilotMetadata = 4 << 10

func (in copilotActionInput) validate() []ledger.FieldError {
	var errs ledger.FieldErrors
	if in.Action == nil || !copilotActionPattern.MatchString(*in.Action) {
		errs.Add("action", "is required: 1 to 40 lower-case letters or underscores, such as draft_email")
	}
	switch {
	case in.Target == nil:
		errs.Add("target", "is required")
	default:
		if !copilotTypePattern.MatchString(in.Target.Type) {
			errs.Add("target.type", "is required: 1 to 64 lower-case letters, digits or underscores, such as campaign")
		}
		if n := utf8.RuneCountInString(in.Target.ID); n < 1 || n > 255 {
			errs.Add("target.id", "is required: 1 to 255 characters")
		}
	}
	if in.Summary == nil || utf8.RuneCountInString(*in.Summary) < 1 || utf8.RuneCountInString(*in.Summary) > 1000 {
		errs.Add("summary", "is required: 1 to 1000 characters")
	}
	if in.Model != nil && (utf8.RuneCountInString(*in.Model) < 1 || utf8.RuneCountInString(*in.Model) > 100) {
		errs.Add("model", "must be 1 to 100 characters")
	}
	if len(in.Metadata) > 0 && string(in.Metadata) != "null" {
		var obj map[string]any
		switch {
		case json.Unmarshal(in.Metadata, &obj) != nil || obj == nil:
			errs.Add("metadata", "must be a JSON object")
		case len(in.Metadata) > maxCopilotMetadata:
			errs.Add("metadata", "must be at most 4 KiB of JSON")
		}
	}
	return errs
}

// recordCopilotAction answers POST /v1/copilot/actions: the action is
// appended to the audit log as copilot.<action>, acted by the API key, and
// the stored entry is the answer.
func (s *Server) recordCopilotAction(w http.ResponseWriter, r *http.Request) {
	var in copilotActionInput
	if !decodeJSON(w, r, &in) {
		return
	}
	if errs := in.validate(); len(errs) > 0 {
		validationFailed(w, r, errs)
		return
	}
	metadata := map[string]any{"summary": *in.Summary}
	if in.Model != nil {
		metadata["model"] = *in.Model
	}
	if len(in.Metadata) > 0 && string(in.Metadata) != "null" {
		metadata["details"] = in.Metadata
	}
	p := principalFrom(r.Context())
	s.mutate(w, r, "recording a co-pilot action", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		rec, err := s.sealer.Append(ctx, tx, p.OrgID, s.auditEntry(r, "copilot."+*in.Action, in.Target.Type, in.Target.ID, metadata))
		if err != nil {
			return 0, nil, err
		}
		entry, err := s.readAuditEntry(ctx, tx, p.OrgID, rec.Seq)
		return http.StatusCreated, entry, err
	})
}
