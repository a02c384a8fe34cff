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
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/rekomi/rekomi/app/ledger"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/db"
)

const (
	// inviteTokenPrefix marks an affiliate invite token, so that one found
	// in a log or a leak is recognized.
	inviteTokenPrefix = "rk_inv_"
	// inviteTTL is how long an invite can be accepted.
	inviteTTL = 7 * 24 * time.Hour
)

// affiliateInviteObject is an invite as the answer that issues it shows it,
// the one time its token is shown.
type affiliateInviteObject struct {
	Token      string     `json:"token"`
	CampaignID *uuid.UUID `json:"campaign_id"`
	ExpiresAt  time.Time  `json:"expires_at"`
}

// newInviteToken returns a token of 32 random bytes from r and its
// SHA-256, which is all that is stored.
func newInviteToken(r io.Reader) (string, [sha256.Size]byte, error) {
	var secret [32]byte
	if _, err := io.ReadFull(r, secret[:]); err != nil {
		return "", [sha256.Size]byte{}, fmt.Errorf("reading random bytes for an invite token: %w", err)
	}
	token := inviteTokenPrefix + base64.RawURLEncoding.EncodeToString(secret[:])
	return token, sha256.Sum256([]byte(token)), nil
}

// insertInvite issues an invite to the affiliate, for the campaign if
// given, and returns it with its token.
func insertInvite(ctx context.Context, tx pgx.Tx, orgID, affiliateID uuid.UUID, campaign *uuid.UUID) (*affiliateInviteObject, error) {
	token, hash, err := newInviteToken(rand.Reader)
	if err != nil {
		return nil, err
	}
	inv := &affiliateInviteObject{Token: token}
	err = tx.QueryRow(ctx, `INSERT INTO affiliate_invites (org_id, affiliate_id, campaign_id, token_hash, expires_at)
		VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5)) RETURNING campaign_id, expires_at`,
		orgID, affiliateID, campaign, hash[:], inviteTTL.Seconds()).Scan(&inv.CampaignID, &inv.ExpiresAt)
	if err != nil {
		return nil, fmt.Errorf("inserting an affiliate invite: %w", db.MapError(err))
	}
	return inv, nil
}

// reinviteAffiliate replaces the open invites of an affiliate who has not
// accepted one yet by a new invite for the same campaign.
func (s *Server) reinviteAffiliate(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	s.mutate(w, r, "inviting an affiliate again", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		a, err := lockAffiliate(ctx, tx, p.OrgID, id)
		if err != nil {
			return 0, nil, err
		}
		if a.Status != affiliateInvited {
			return 0, nil, stateConflict("the affiliate has accepted an invite already; only an invited affiliate can be invited again")
		}
		var campaign *uuid.UUID
		err = tx.QueryRow(ctx, `SELECT campaign_id FROM affiliate_invites WHERE org_id = $1 AND affiliate_id = $2
			ORDER BY created_at DESC LIMIT 1`, p.OrgID, id).Scan(&campaign)
		if err := db.MapError(err); err != nil && !errors.Is(err, db.ErrNotFound) {
			return 0, nil, fmt.Errorf("reading the last invite: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM affiliate_invites WHERE org_id = $1 AND affiliate_id = $2 AND accepted_at IS NULL`,
			p.OrgID, id); err != nil {
			return 0, nil, fmt.Errorf("deleting open invites: %w", db.MapError(err))
		}
		if a.Invite, err = insertInvite(ctx, tx, p.OrgID, id, campaign); err != nil {
			return 0, nil, err
		}
		_, err = s.sealer.Append(ctx, tx, p.OrgID, withPersonal(s.auditEntry(r, "affiliate.invited", "affiliate", id.String(),
			map[string]any{"campaign_id": campaign, "reissued": true}), map[string]string{audit.FieldEmail: a.Email}))
		return http.StatusOK, a, err
	})
}

type acceptInviteRequest struct {
	Token *string `json:"token"`
	Name  *string `json:"name"`
}

func (req acceptInviteRequest) validate() []ledger.FieldError {
	var errs []ledger.FieldError
	if req.Token == nil || *req.Token == "" {
		errs = append(errs, ledger.FieldError{Field: "token", Detail: "is required"})
	}
	if req.Name != nil && !validAffiliateName(*req.Name) {
		errs = append(errs, ledger.FieldError{Field: "name", Detail: "must be 1 to 200 characters"})
	}
	return errs
}

// acceptInvite takes the token an affiliate received, as the merchant's
// backend forwards it. An unknown, expired or used token, or one of another
// organization, is the same 404: the answer does not say which.
func (s *Server) acceptInvite(w http.ResponseWriter, r *http.Request) {
	var req acceptInviteRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if errs := req.validate(); len(errs) > 0 {
		validationFailed(w, r, errs)
		return
	}
	hash := sha256.Sum256([]byte(*req.Token))
	p := principalFrom(r.Context())
	s.mutate(w, r, "accepting an affiliate invite", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		var inviteID, affiliateID uuid.UUID
		err := tx.QueryRow(ctx, `UPDATE affiliate_invites SET accepted_at = now()
			WHERE org_id = $1 AND token_hash = $2 AND accepted_at IS NULL AND expires_at > now()
			RETURNING id, affiliate_id`, p.OrgID, hash[:]).Scan(&inviteID, &affiliateID)
		if err != nil {
			return 0, nil, db.MapError(err)
		}
		a, err := scanAffiliate(tx.QueryRow(ctx, `UPDATE affiliates SET status = 'pending', name = coalesce($3, name), updated_at = now()
			WHERE org_id = $1 AND id = $2 AND status = 'invited' RETURNING `+affiliateColumns, p.OrgID, affiliateID, req.Name))
		if err != nil {
			return 0, nil, err
		}
		_, err = s.sealer.Append(ctx, tx, p.OrgID, s.auditEntry(r, "affiliate.accepted", "affiliate", a.ID.String(),
			map[string]any{"invite_id": inviteID}))
		return http.StatusOK, a, err
	})
}

// affiliateTransition decides what action, approve or suspend, does to an
// affiliate in status from: the status after it and whether it differs, or
// the reason the lifecycle refuses it.
func affiliateTransition(action, from string) (string, bool, error) {
	switch {
	case action == "approve" && from == affiliateActive:
		return from, false, nil
	case action == "approve" && (from == affiliatePending || from == affiliateSuspended):
		return affiliateActive, true, nil
	case action == "approve":
		return from, false, stateConflict("the affiliate must accept the invite before being approved")
	case action == "suspend" && from == affiliateSuspended:
		return from, false, nil
	case action == "suspend" && (from == affiliatePending || from == affiliateActive):
		return affiliateSuspended, true, nil
	case action == "suspend":
		return from, false, stateConflict("only a pending or active affiliate can be suspended")
	}
	return from, false, fmt.Errorf("unknown affiliate action %q", action)
}

func (s *Server) approveAffiliate(w http.ResponseWriter, r *http.Request) {
	s.transitionAffiliate(w, r, "approve", "affiliate.approved", nil)
}

type suspendAffiliateRequest struct {
	Reason *string `json:"reason"`
}

func (s *Server) suspendAffiliate(w http.ResponseWriter, r *http.Request) {
	var req suspendAffiliateRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if req.Reason == nil {
		validationFailed(w, r, []ledger.FieldError{{Field: "reason", Detail: "is required"}})
		return
	}
	if n := utf8.RuneCountInString(*req.Reason); n < 1 || n > 500 {
		validationFailed(w, r, []ledger.FieldError{{Field: "reason", Detail: "must be 1 to 500 characters"}})
		return
	}
	s.transitionAffiliate(w, r, "suspend", "affiliate.suspended", map[string]any{"reason": *req.Reason})
}

// transitionAffiliate applies action to the {id} affiliate and audits it
// as auditAction with metadata; a move to the status it has already is
// answered without a change or an entry. The affiliate's codes are dropped
// from this process's link cache, since whether they redirect depends on
// the status.
func (s *Server) transitionAffiliate(w http.ResponseWriter, r *http.Request, action, auditAction string, metadata map[string]any) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	s.mutate(w, r, "changing an affiliate's status", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		a, err := lockAffiliate(ctx, tx, p.OrgID, id)
		if err != nil {
			return 0, nil, err
		}
		to, changed, err := affiliateTransition(action, a.Status)
		if err != nil || !changed {
			return http.StatusOK, a, err
		}
		updated, err := scanAffiliate(tx.QueryRow(ctx, `UPDATE affiliates SET status = $3,
			approved_at = CASE WHEN $3 = 'active' THEN now() ELSE approved_at END, updated_at = now()
			WHERE org_id = $1 AND id = $2 RETURNING `+affiliateColumns, p.OrgID, id, to))
		if err != nil {
			return 0, nil, err
		}
		_, err = s.sealer.Append(ctx, tx, p.OrgID, s.auditEntry(r, auditAction, "affiliate", id.String(), metadata))
		return http.StatusOK, updated, err
	}, func() { s.links.evictAffiliate(p.OrgID, id) })
}
