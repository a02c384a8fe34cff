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
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/db"
)

// Link is a referral link as the API shows it; code is its public part.
// URL, where the affiliate sends visitors, is built from the code by whoever
// serves the link (the API, from its public base URL): the ledger leaves it
// empty.
type Link struct {
	Object         string     `json:"object"`
	ID             uuid.UUID  `json:"id"`
	AffiliateID    uuid.UUID  `json:"affiliate_id"`
	CampaignID     uuid.UUID  `json:"campaign_id"`
	Code           string     `json:"code"`
	URL            string     `json:"url"`
	DestinationURL string     `json:"destination_url"`
	DisabledAt     *time.Time `json:"disabled_at"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

const linkColumns = `id, affiliate_id, campaign_id, code, destination_url, disabled_at, created_at, updated_at`

func scanLink(row pgx.Row) (Link, error) {
	l := Link{Object: "referral_link"}
	err := row.Scan(&l.ID, &l.AffiliateID, &l.CampaignID, &l.Code, &l.DestinationURL, &l.DisabledAt, &l.CreatedAt, &l.UpdatedAt)
	return l, db.MapError(err)
}

var linkQuery = Query[Link]{Table: "referral_links", Columns: linkColumns, Scan: scanLink}

// GetLink reads link id of org, or db.ErrNotFound.
func GetLink(ctx context.Context, tx pgx.Tx, org, id uuid.UUID) (Link, error) {
	return Get(ctx, tx, org, linkQuery, id)
}

// LinkFilter keeps the links of one affiliate, of one campaign, or both;
// nil keeps all.
type LinkFilter struct {
	AffiliateID, CampaignID *uuid.UUID
}

// ListLinks reads a page of org's links that f keeps.
func ListLinks(ctx context.Context, tx pgx.Tx, org uuid.UUID, p Page, f LinkFilter) (List[Link], error) {
	q := linkQuery
	q.Where = `($4::uuid IS NULL OR affiliate_id = $4) AND ($5::uuid IS NULL OR campaign_id = $5)`
	return ListPage(ctx, tx, org, q, p, f.AffiliateID, f.CampaignID)
}

// NewLink is a link to create: DestinationURL as CheckDestinationURL
// returns it, Code a ValidReferralCode or "" to have one generated.
type NewLink struct {
	AffiliateID, CampaignID uuid.UUID
	DestinationURL, Code    string
}

// ErrLinkCodeTaken refuses a link whose code another link, of any
// organization, has or had.
var ErrLinkCodeTaken = conflict("The request conflicts with the current state of the object",
	"the code is taken; choose another, or leave it out to have one generated")

// CreateLink creates the link in describes, for an affiliate that is not
// suspended and a campaign that is not archived, reserves its code across
// organizations and audits it (link.created, the destination sealed).
func CreateLink(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, in NewLink) (Link, error) {
	if in.Code == "" {
		code, err := newLinkCode(rand.Reader)
		if err != nil {
			return Link{}, err
		}
		in.Code = code
	}
	if err := requireLinkAffiliate(ctx, tx, org, in.AffiliateID); err != nil {
		return Link{}, err
	}
	if err := RequireUsableCampaign(ctx, tx, org, in.CampaignID); err != nil {
		return Link{}, err
	}
	l, err := scanLink(tx.QueryRow(ctx, `INSERT INTO referral_links (org_id, affiliate_id, campaign_id, code, destination_url)
		VALUES ($1, $2, $3, $4, $5) RETURNING `+linkColumns, org, in.AffiliateID, in.CampaignID, in.Code, in.DestinationURL))
	if err == nil {
		_, err = tx.Exec(ctx, `INSERT INTO route_keys (kind, key, org_id, target_id) VALUES ('link_code', $1, $2, $3)`,
			l.Code, org, l.ID)
		err = db.MapError(err)
	}
	switch {
	case errors.Is(err, db.ErrConflict):
		return Link{}, ErrLinkCodeTaken
	case err != nil:
		return Link{}, fmt.Errorf("creating a referral link: %w", err)
	}
	return l, rec.Record(ctx, tx, org, "link.created", "referral_link", l.ID.String(),
		map[string]any{"code": l.Code, "affiliate_id": l.AffiliateID, "campaign_id": l.CampaignID},
		map[string]string{audit.FieldDestinationURL: l.DestinationURL})
}

// requireLinkAffiliate refuses, as invalid affiliate_id, an id that is not
// one of org's affiliates or names a suspended one.
func requireLinkAffiliate(ctx context.Context, tx pgx.Tx, org, id uuid.UUID) error {
	var status AffiliateStatus
	err := db.MapError(tx.QueryRow(ctx, `SELECT status FROM affiliates WHERE org_id = $1 AND id = $2`, org, id).Scan(&status))
	switch {
	case errors.Is(err, db.ErrNotFound):
		return FieldErrors{{Field: "affiliate_id", Detail: "is not an affiliate of the organization"}}
	case err != nil:
		return fmt.Errorf("reading affiliate %s: %w", id, err)
	case status == AffiliateSuspended:
		return FieldErrors{{Field: "affiliate_id", Detail: "names a suspended affiliate"}}
	}
	return nil
}

// LinkChanges is what an update of a link changes; a nil field is kept.
type LinkChanges struct {
	// DestinationURL, as CheckDestinationURL returns it.
	DestinationURL *string
}

// UpdateLink applies ch to link id of org and audits it (link.updated),
// returning the link as it is now. Changes that change nothing write and
// audit nothing.
func UpdateLink(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, id uuid.UUID, ch LinkChanges) (Link, error) {
	l, err := lockLink(ctx, tx, org, id)
	if err != nil || ch.DestinationURL == nil || *ch.DestinationURL == l.DestinationURL {
		return l, db.Wrap("locking referral link "+id.String(), err)
	}
	updated, err := scanLink(tx.QueryRow(ctx, `UPDATE referral_links SET destination_url = $3, updated_at = now()
		WHERE org_id = $1 AND id = $2 RETURNING `+linkColumns, org, id, *ch.DestinationURL))
	if err != nil {
		return Link{}, fmt.Errorf("updating referral link %s: %w", id, err)
	}
	return updated, rec.Record(ctx, tx, org, "link.updated", "referral_link", id.String(),
		map[string]any{"changed": []string{"destination_url"}}, nil)
}

// DisableLink stops link id of org from redirecting, for good, and audits
// it (link.disabled), returning the link as it is now; disabling it again
// changes and audits nothing. Its route key stays, so the code remains
// reserved to this link: a copy of the link still shared somewhere can
// never lead to another merchant.
func DisableLink(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, id uuid.UUID) (Link, error) {
	l, err := lockLink(ctx, tx, org, id)
	if err != nil || l.DisabledAt != nil {
		return l, db.Wrap("locking referral link "+id.String(), err)
	}
	disabled, err := scanLink(tx.QueryRow(ctx, `UPDATE referral_links SET disabled_at = now(), updated_at = now()
		WHERE org_id = $1 AND id = $2 RETURNING `+linkColumns, org, id))
	if err != nil {
		return Link{}, fmt.Errorf("disabling referral link %s: %w", id, err)
	}
	return disabled, rec.Record(ctx, tx, org, "link.disabled", "referral_link", id.String(), map[string]any{"code": l.Code}, nil)
}

// lockLink reads link id of org for update, or db.ErrNotFound.
func lockLink(ctx context.Context, tx pgx.Tx, org, id uuid.UUID) (Link, error) {
	return scanLink(tx.QueryRow(ctx, `SELECT `+linkColumns+` FROM referral_links WHERE org_id = $1 AND id = $2 FOR UPDATE`, org, id))
}
