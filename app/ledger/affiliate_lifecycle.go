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

package ledger

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

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

// AffiliateInvite is an invite as the answer that issues it shows it, the
// one time its token is shown.
type AffiliateInvite struct {
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

// issueInvite issues an invite to the affiliate, for the campaign if
// given, and returns it with its token.
func issueInvite(ctx context.Context, tx pgx.Tx, org, affiliateID uuid.UUID, campaign *uuid.UUID) (*AffiliateInvite, error) {
	token, hash, err := newInviteToken(rand.Reader)
	if err != nil {
		return nil, err
	}
	inv := &AffiliateInvite{Token: token}
	err = tx.QueryRow(ctx, `INSERT INTO affiliate_invites (org_id, affiliate_id, campaign_id, token_hash, expires_at)
		VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5)) RETURNING campaign_id, expires_at`,
		org, affiliateID, campaign, hash[:], inviteTTL.Seconds()).Scan(&inv.CampaignID, &inv.ExpiresAt)
	if err != nil {
		return nil, fmt.Errorf("inserting an affiliate invite: %w", db.MapError(err))
	}
	return inv, nil
}

// ErrInviteAccepted refuses to invite again an affiliate who has accepted
// an invite.
var ErrInviteAccepted = affiliateConflict("the affiliate has accepted an invite already; only an invited affiliate can be invited again")

// ReinviteAffiliate replaces the open invites of affiliate id of org, who
// has not accepted one yet, by a new invite for the campaign of the last
// one, audits it (affiliate.invited, reissued, the email sealed), and
// returns the affiliate with the new invite and its token. An affiliate
// past invited is ErrInviteAccepted.
func ReinviteAffiliate(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, id uuid.UUID) (Affiliate, error) {
	a, err := lockAffiliate(ctx, tx, org, id)
	if err != nil {
		return Affiliate{}, err
	}
	if a.Status != AffiliateInvited {
		return Affiliate{}, ErrInviteAccepted
	}
	var campaign *uuid.UUID
	err = db.MapError(tx.QueryRow(ctx, `SELECT campaign_id FROM affiliate_invites WHERE org_id = $1 AND affiliate_id = $2
		ORDER BY created_at DESC LIMIT 1`, org, id).Scan(&campaign))
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return Affiliate{}, fmt.Errorf("reading the last invite: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM affiliate_invites WHERE org_id = $1 AND affiliate_id = $2 AND accepted_at IS NULL`,
		org, id); err != nil {
		return Affiliate{}, fmt.Errorf("deleting open invites: %w", db.MapError(err))
	}
	if a.Invite, err = issueInvite(ctx, tx, org, id, campaign); err != nil {
		return Affiliate{}, err
	}
	return a, rec.Record(ctx, tx, org, "affiliate.invited", "affiliate", id.String(),
		map[string]any{"campaign_id": campaign, "reissued": true}, map[string]string{audit.FieldEmail: a.Email})
}

// AcceptInvite accepts the invite whose token an affiliate received,
// naming the affiliate name if given, moves the affiliate from invited to
// pending, and audits it (affiliate.accepted). An unknown, expired or used
// token, or one of another organization, is the same db.ErrNotFound.
func AcceptInvite(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, token string, name *string) (Affiliate, error) {
	hash := sha256.Sum256([]byte(token))
	var inviteID, affiliateID uuid.UUID
	err := tx.QueryRow(ctx, `UPDATE affiliate_invites SET accepted_at = now()
		WHERE org_id = $1 AND token_hash = $2 AND accepted_at IS NULL AND expires_at > now()
		RETURNING id, affiliate_id`, org, hash[:]).Scan(&inviteID, &affiliateID)
	if err != nil {
		return Affiliate{}, db.Wrap("accepting the invite", db.MapError(err))
	}
	a, err := scanAffiliate(tx.QueryRow(ctx, `UPDATE affiliates SET status = $4, name = coalesce($3, name), updated_at = now()
		WHERE org_id = $1 AND id = $2 AND status = $5 RETURNING `+affiliateColumns,
		org, affiliateID, name, AffiliatePending, AffiliateInvited))
	if err != nil {
		return Affiliate{}, fmt.Errorf("marking affiliate %s pending: %w", affiliateID, err)
	}
	return a, rec.Record(ctx, tx, org, "affiliate.accepted", "affiliate", a.ID.String(),
		map[string]any{"invite_id": inviteID}, nil)
}

// affiliateMove is a merchant's decision on an affiliate: the status it
// leads to from any of the statuses from, the refusal of any other status
// but to itself (which the move leaves unchanged), and its audit action.
type affiliateMove struct {
	to      AffiliateStatus
	from    []AffiliateStatus
	refusal *Refusal
	action  string
}

// The transition table of the affiliate lifecycle: approval activates a
// pending or suspended affiliate, suspension suspends a pending or active
// one.
var (
	affiliateApproval = affiliateMove{to: AffiliateActive, from: []AffiliateStatus{AffiliatePending, AffiliateSuspended},
		refusal: affiliateConflict("the affiliate must accept the invite before being approved"), action: "affiliate.approved"}
	affiliateSuspension = affiliateMove{to: AffiliateSuspended, from: []AffiliateStatus{AffiliatePending, AffiliateActive},
		refusal: affiliateConflict("only a pending or active affiliate can be suspended"), action: "affiliate.suspended"}
)

// next decides what m does to an affiliate in status from: the status
// after it and whether it differs, or the refusal.
func (m affiliateMove) next(from AffiliateStatus) (AffiliateStatus, bool, error) {
	switch {
	case from == m.to:
		return from, false, nil
	case slices.Contains(m.from, from):
		return m.to, true, nil
	}
	return from, false, m.refusal
}

// ApproveAffiliate activates affiliate id of org, pending or suspended,
// and audits it (affiliate.approved). An active affiliate is returned
// unchanged and nothing is audited; an invited one is refused (Conflict).
func ApproveAffiliate(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, id uuid.UUID) (Affiliate, error) {
	return moveAffiliate(ctx, tx, org, rec, id, affiliateApproval, nil)
}

// SuspendAffiliate suspends affiliate id of org, pending or active, for
// reason and audits it (affiliate.suspended, with the reason). A suspended
// affiliate is returned unchanged and nothing is audited; an invited one
// is refused (Conflict).
func SuspendAffiliate(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, id uuid.UUID, reason string) (Affiliate, error) {
	return moveAffiliate(ctx, tx, org, rec, id, affiliateSuspension, map[string]any{"reason": reason})
}

// moveAffiliate applies m to affiliate id and audits it with metadata; a
// move to the status it has already changes and audits nothing. Becoming
// active sets approved_at.
func moveAffiliate(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, id uuid.UUID, m affiliateMove,
	metadata map[string]any) (Affiliate, error) {
	a, err := lockAffiliate(ctx, tx, org, id)
	if err != nil {
		return Affiliate{}, err
	}
	to, changed, err := m.next(a.Status)
	if err != nil || !changed {
		return a, err
	}
	updated, err := scanAffiliate(tx.QueryRow(ctx, `UPDATE affiliates SET status = $3,
		approved_at = CASE WHEN $4 THEN now() ELSE approved_at END, updated_at = now()
		WHERE org_id = $1 AND id = $2 RETURNING `+affiliateColumns, org, id, to, to == AffiliateActive))
	if err != nil {
		return Affiliate{}, fmt.Errorf("moving affiliate %s to %s: %w", id, to, err)
	}
	return updated, rec.Record(ctx, tx, org, m.action, "affiliate", id.String(), metadata, nil)
}
