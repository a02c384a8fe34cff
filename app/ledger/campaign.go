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
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/db"
)

// Campaign is a campaign's commission rules as the API shows them. Money
// is in integer minor units of the campaign's currency.
type Campaign struct {
	Object          string         `json:"object"`
	ID              uuid.UUID      `json:"id"`
	Name            string         `json:"name"`
	Currency        string         `json:"currency"`
	Commission      CommissionRule `json:"commission"`
	Recurrence      Recurrence     `json:"recurrence"`
	Attribution     Attribution    `json:"attribution"`
	HoldDays        int            `json:"hold_days"`
	MinPayoutAmount int64          `json:"min_payout_amount"`
	ArchivedAt      *time.Time     `json:"archived_at"`
	CreatedAt       time.Time      `json:"created_at"`
	UpdatedAt       time.Time      `json:"updated_at"`
}

// CommissionType says how a campaign's commission is computed from a sale.
type CommissionType string

const (
	// CommissionPercentage earns percent_bps basis points of the sale.
	CommissionPercentage CommissionType = "percentage"
	// CommissionFlat earns a fixed amount per sale.
	CommissionFlat CommissionType = "flat"
)

// CommissionRule is {type: "percentage", percent_bps} or {type: "flat",
// amount}.
type CommissionRule struct {
	Type       CommissionType `json:"type"`
	PercentBps *int           `json:"percent_bps,omitempty"`
	Amount     *int64         `json:"amount,omitempty"`
}

// RecurrenceType says which of a customer's payments earn commission.
type RecurrenceType string

const (
	// RecurrenceOneTime: the customer's first sale only.
	RecurrenceOneTime RecurrenceType = "one_time"
	// RecurrenceRecurring: the sales within months of the first.
	RecurrenceRecurring RecurrenceType = "recurring"
	// RecurrenceLifetime: every sale.
	RecurrenceLifetime RecurrenceType = "lifetime"
)

// Recurrence says which of a customer's payments earn commission; Months
// is set for a recurring commission only.
type Recurrence struct {
	Type   RecurrenceType `json:"type"`
	Months *int           `json:"months"`
}

// AttributionModel says which of a visitor's clicks a conversion goes to.
type AttributionModel string

const (
	// FirstClick attributes a conversion to the earliest eligible click.
	FirstClick AttributionModel = "first_click"
	// LastClick attributes a conversion to the most recent eligible click.
	LastClick AttributionModel = "last_click"
)

// Attribution is how long a click counts (WindowDays, which is also the
// visitor cookie's lifetime) and which click wins.
type Attribution struct {
	WindowDays int              `json:"window_days"`
	Model      AttributionModel `json:"model"`
}

const campaignColumns = `id, name, currency, commission_type, commission_bps, commission_amount, recurrence, recurring_months,
	attribution_window_days, attribution_model, hold_days, min_payout_amount, archived_at, created_at, updated_at`

func scanCampaign(row pgx.Row) (Campaign, error) {
	c := Campaign{Object: "campaign"}
	err := row.Scan(&c.ID, &c.Name, &c.Currency, &c.Commission.Type, &c.Commission.PercentBps, &c.Commission.Amount,
		&c.Recurrence.Type, &c.Recurrence.Months, &c.Attribution.WindowDays, &c.Attribution.Model,
		&c.HoldDays, &c.MinPayoutAmount, &c.ArchivedAt, &c.CreatedAt, &c.UpdatedAt)
	return c, db.MapError(err)
}

var campaignQuery = Query[Campaign]{Table: "campaigns", Columns: campaignColumns, Scan: scanCampaign}

// GetCampaign reads campaign id of org, or db.ErrNotFound.
func GetCampaign(ctx context.Context, tx pgx.Tx, org, id uuid.UUID) (Campaign, error) {
	return Get(ctx, tx, org, campaignQuery, id)
}

// ListCampaigns reads a page of org's campaigns, the archived ones too
// when includeArchived is set.
func ListCampaigns(ctx context.Context, tx pgx.Tx, org uuid.UUID, p Page, includeArchived bool) (List[Campaign], error) {
	q := campaignQuery
	q.Where = `$4 OR archived_at IS NULL`
	return ListPage(ctx, tx, org, q, p, includeArchived)
}

// CreateCampaign stores c, a campaign from NewCampaign, and audits it
// (campaign.created), returning it as stored. A c that is not valid is
// refused with its field errors.
func CreateCampaign(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, c Campaign) (Campaign, error) {
	created, err := InsertCampaign(ctx, tx, org, c)
	if err != nil {
		return Campaign{}, err
	}
	return created, rec.Record(ctx, tx, org, "campaign.created", "campaign", created.ID.String(),
		map[string]any{"name": created.Name}, nil)
}

// InsertCampaign stores c, refused with its field errors if not valid, and
// returns it as stored, without an audit entry: it is CreateCampaign's
// write alone, which an audited-write benchmark measures CreateCampaign
// against. Everything else creates a campaign through CreateCampaign.
func InsertCampaign(ctx context.Context, tx pgx.Tx, org uuid.UUID, c Campaign) (Campaign, error) {
	if errs := c.Validate(); len(errs) > 0 {
		return Campaign{}, errs
	}
	created, err := scanCampaign(tx.QueryRow(ctx, `INSERT INTO campaigns (org_id, name, currency, commission_type,
		commission_bps, commission_amount, recurrence, recurring_months, attribution_window_days, attribution_model,
		hold_days, min_payout_amount) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING `+campaignColumns,
		org, c.Name, c.Currency, c.Commission.Type, c.Commission.PercentBps, c.Commission.Amount, c.Recurrence.Type,
		c.Recurrence.Months, c.Attribution.WindowDays, c.Attribution.Model, c.HoldDays, c.MinPayoutAmount))
	if err != nil {
		return Campaign{}, fmt.Errorf("creating a campaign: %w", err)
	}
	return created, nil
}

// UpdateCampaign applies ch to campaign id of org and audits the fields
// that changed (campaign.updated), returning the campaign as it is now. A
// result that is not a valid campaign is refused with its field errors;
// changes that change nothing write and audit nothing.
func UpdateCampaign(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, id uuid.UUID, ch CampaignChanges) (Campaign, error) {
	c, err := lockCampaign(ctx, tx, org, id)
	if err != nil {
		return Campaign{}, db.Wrap("locking campaign "+id.String(), err)
	}
	changed := ch.apply(&c)
	if errs := c.Validate(); len(errs) > 0 {
		return Campaign{}, errs
	}
	if len(changed) == 0 {
		return c, nil
	}
	updated, err := scanCampaign(tx.QueryRow(ctx, `UPDATE campaigns SET name = $3, currency = $4, commission_type = $5,
		commission_bps = $6, commission_amount = $7, recurrence = $8, recurring_months = $9, attribution_window_days = $10,
		attribution_model = $11, hold_days = $12, min_payout_amount = $13, updated_at = now()
		WHERE org_id = $1 AND id = $2 RETURNING `+campaignColumns,
		org, id, c.Name, c.Currency, c.Commission.Type, c.Commission.PercentBps, c.Commission.Amount, c.Recurrence.Type,
		c.Recurrence.Months, c.Attribution.WindowDays, c.Attribution.Model, c.HoldDays, c.MinPayoutAmount))
	if err != nil {
		return Campaign{}, fmt.Errorf("updating campaign %s: %w", id, err)
	}
	return updated, rec.Record(ctx, tx, org, "campaign.updated", "campaign", id.String(), map[string]any{"changed": changed}, nil)
}

// ArchiveCampaign archives campaign id of org and audits it
// (campaign.archived), returning the campaign as it is now. An archived
// campaign pays no new commissions and takes no new links or invites.
// Archiving it again changes and audits nothing.
func ArchiveCampaign(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, id uuid.UUID) (Campaign, error) {
	c, err := lockCampaign(ctx, tx, org, id)
	if err != nil || c.ArchivedAt != nil {
		return c, db.Wrap("locking campaign "+id.String(), err)
	}
	archived, err := scanCampaign(tx.QueryRow(ctx, `UPDATE campaigns SET archived_at = now(), updated_at = now()
		WHERE org_id = $1 AND id = $2 RETURNING `+campaignColumns, org, id))
	if err != nil {
		return Campaign{}, fmt.Errorf("archiving campaign %s: %w", id, err)
	}
	return archived, rec.Record(ctx, tx, org, "campaign.archived", "campaign", id.String(), nil, nil)
}

// lockCampaign reads campaign id of org for update, or db.ErrNotFound.
func lockCampaign(ctx context.Context, tx pgx.Tx, org, id uuid.UUID) (Campaign, error) {
	return scanCampaign(tx.QueryRow(ctx, `SELECT `+campaignColumns+` FROM campaigns WHERE org_id = $1 AND id = $2 FOR UPDATE`, org, id))
}

// RequireUsableCampaign refuses, as invalid campaign_id, an id that is not
// one of org's campaigns or names an archived one: a new link or invite
// must name a campaign that pays.
func RequireUsableCampaign(ctx context.Context, tx pgx.Tx, org, id uuid.UUID) error {
	var archivedAt *time.Time
	err := db.MapError(tx.QueryRow(ctx, `SELECT archived_at FROM campaigns WHERE org_id = $1 AND id = $2`, org, id).Scan(&archivedAt))
	switch {
	case errors.Is(err, db.ErrNotFound):
		return FieldErrors{{Field: "campaign_id", Detail: "is not a campaign of the organization"}}
	case err != nil:
		return fmt.Errorf("reading campaign %s: %w", id, err)
	case archivedAt != nil:
		return FieldErrors{{Field: "campaign_id", Detail: "names an archived campaign"}}
	}
	return nil
}
