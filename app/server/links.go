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
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/rekomi/rekomi/app/ledger"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/db"
)

const (
	// linkCodeLength is the length of a generated code: 62^10 is about
	// 8e17, too many to guess one.
	linkCodeLength   = 10
	linkCodeAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	// maxDestinationURL bounds a destination URL, in bytes.
	maxDestinationURL = 2048
)

// linkCodePattern is the form of a code a merchant chooses.
var linkCodePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{4,64}$`)

// linkObject is a referral link as the API shows it; url is where the
// affiliate sends visitors, code its public part.
type linkObject struct {
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

// scanLink reads a link and sets its public URL.
func (s *Server) scanLink(row pgx.Row) (linkObject, error) {
	l := linkObject{Object: "referral_link"}
	err := row.Scan(&l.ID, &l.AffiliateID, &l.CampaignID, &l.Code, &l.DestinationURL, &l.DisabledAt, &l.CreatedAt, &l.UpdatedAt)
	if err != nil {
		return l, db.MapError(err)
	}
	l.URL = strings.TrimRight(s.cfg.PublicBaseURL, "/") + "/r/" + l.Code
	return l, nil
}

func (s *Server) lockLink(ctx context.Context, tx pgx.Tx, orgID, id uuid.UUID) (linkObject, error) {
	return s.scanLink(tx.QueryRow(ctx, `SELECT `+linkColumns+` FROM referral_links WHERE org_id = $1 AND id = $2 FOR UPDATE`, orgID, id))
}

// newLinkCode draws a code of linkCodeLength characters from r, uniformly
// over the alphabet: bytes at or above 248 (4*62) are dropped.
func newLinkCode(r io.Reader) (string, error) {
	code := make([]byte, 0, linkCodeLength)
	buf := make([]byte, 2*linkCodeLength)
	for len(code) < linkCodeLength {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("reading random bytes for a link code: %w", err)
		}
		for _, b := range buf {
			if b < 4*62 && len(code) < linkCodeLength {
				code = append(code, linkCodeAlphabet[b%62])
			}
		}
	}
	return string(code), nil
}

// checkDestinationURL returns the URL to store, with its scheme in lower
// case, or what is wrong with it. Only absolute http(s) URLs with a host
// and no user information go: no other scheme, no control characters,
// spaces or backslashes (which browsers read as slashes).
func checkDestinationURL(raw string) (string, string) {
	if len(raw) > maxDestinationURL {
		return "", "must be at most 2048 bytes"
	}
	if strings.IndexFunc(raw, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) || r == '\\' }) >= 0 {
		return "", "must not contain spaces, control characters or backslashes"
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.Hostname() == "" {
		return "", "must be an absolute http or https URL"
	}
	if u.User != nil {
		return "", "must not contain user information"
	}
	return u.Scheme + raw[len(u.Scheme):], ""
}

type createLinkRequest struct {
	AffiliateID    *string `json:"affiliate_id"`
	CampaignID     *string `json:"campaign_id"`
	DestinationURL *string `json:"destination_url"`
	Code           *string `json:"code"`
}

// linkInput is a create request once checked.
type linkInput struct {
	affiliateID, campaignID uuid.UUID
	destination, code       string
}

func (req createLinkRequest) validate() (linkInput, []ledger.FieldError) {
	var in linkInput
	var errs []ledger.FieldError
	bad := func(field, detail string) { errs = append(errs, ledger.FieldError{Field: field, Detail: detail}) }
	parseID := func(field string, v *string, into *uuid.UUID) {
		var err error
		switch {
		case v == nil:
			bad(field, "is required")
		default:
			if *into, err = uuid.Parse(*v); err != nil {
				bad(field, "must be an object id")
			}
		}
	}
	parseID("affiliate_id", req.AffiliateID, &in.affiliateID)
	parseID("campaign_id", req.CampaignID, &in.campaignID)
	if req.DestinationURL == nil {
		bad("destination_url", "is required")
	} else {
		var detail string
		if in.destination, detail = checkDestinationURL(*req.DestinationURL); detail != "" {
			bad("destination_url", detail)
		}
	}
	if req.Code != nil {
		if !linkCodePattern.MatchString(*req.Code) {
			bad("code", "must be 4 to 64 letters, digits, _ or -")
		}
		in.code = *req.Code
	}
	return in, errs
}

func (s *Server) createLink(w http.ResponseWriter, r *http.Request) {
	var req createLinkRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	in, errs := req.validate()
	if len(errs) > 0 {
		validationFailed(w, r, errs)
		return
	}
	if in.code == "" {
		code, err := newLinkCode(rand.Reader)
		if err != nil {
			s.internalError(w, r, "generating a link code", err)
			return
		}
		in.code = code
	}
	p := principalFrom(r.Context())
	// The code may be remembered as unknown.
	evict := func() { s.links.evict(in.code) }
	s.mutate(w, r, "creating a referral link", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		if err := requireUsableAffiliate(ctx, tx, p.OrgID, in.affiliateID); err != nil {
			return 0, nil, err
		}
		if err := requireUsableCampaign(ctx, tx, p.OrgID, in.campaignID); err != nil {
			return 0, nil, err
		}
		l, err := s.scanLink(tx.QueryRow(ctx, `INSERT INTO referral_links (org_id, affiliate_id, campaign_id, code, destination_url)
			VALUES ($1, $2, $3, $4, $5) RETURNING `+linkColumns, p.OrgID, in.affiliateID, in.campaignID, in.code, in.destination))
		if err == nil {
			_, err = tx.Exec(ctx, `INSERT INTO route_keys (kind, key, org_id, target_id) VALUES ('link_code', $1, $2, $3)`,
				l.Code, p.OrgID, l.ID)
			err = db.MapError(err)
		}
		if errors.Is(err, db.ErrConflict) {
			return 0, nil, stateConflict("the code is taken; choose another, or leave it out to have one generated")
		}
		if err != nil {
			return 0, nil, err
		}
		_, err = s.sealer.Append(ctx, tx, p.OrgID, withPersonal(s.auditEntry(r, "link.created", "referral_link", l.ID.String(),
			map[string]any{"code": l.Code, "affiliate_id": l.AffiliateID, "campaign_id": l.CampaignID}),
			map[string]string{audit.FieldDestinationURL: l.DestinationURL}))
		return http.StatusCreated, l, err
	}, evict)
}

// requireUsableAffiliate refuses, as invalid affiliate_id, an id that is
// not one of the organization's affiliates or names a suspended one.
func requireUsableAffiliate(ctx context.Context, tx pgx.Tx, orgID, id uuid.UUID) error {
	var status string
	err := db.MapError(tx.QueryRow(ctx, `SELECT status FROM affiliates WHERE org_id = $1 AND id = $2`, orgID, id).Scan(&status))
	switch {
	case errors.Is(err, db.ErrNotFound):
		return ledger.FieldErrors{{Field: "affiliate_id", Detail: "is not an affiliate of the organization"}}
	case err != nil:
		return err
	case status == affiliateSuspended:
		return ledger.FieldErrors{{Field: "affiliate_id", Detail: "names a suspended affiliate"}}
	}
	return nil
}

func (s *Server) getLink(w http.ResponseWriter, r *http.Request) {
	getOne(s, w, r, "reading a referral link", selectByID("referral_links", linkColumns, s.scanLink))
}

// parseLinkFilters reads the optional affiliate_id and campaign_id of a
// list. On failure it has written the problem and returns false.
func parseLinkFilters(w http.ResponseWriter, r *http.Request) (affiliate, campaign *uuid.UUID, ok bool) {
	var errs []ledger.FieldError
	parse := func(name string) *uuid.UUID {
		v := r.URL.Query().Get(name)
		if v == "" {
			return nil
		}
		id, err := uuid.Parse(v)
		if err != nil {
			errs = append(errs, ledger.FieldError{Field: name, Detail: "must be an object id"})
		}
		return &id
	}
	affiliate, campaign = parse("affiliate_id"), parse("campaign_id")
	if len(errs) > 0 {
		writeProblem(w, r, Problem{Type: "invalid_request", Title: "Invalid query", Status: http.StatusBadRequest, Errors: errs})
		return nil, nil, false
	}
	return affiliate, campaign, true
}

func (s *Server) listLinks(w http.ResponseWriter, r *http.Request) {
	page, ok := parsePage(w, r)
	if !ok {
		return
	}
	affiliate, campaign, ok := parseLinkFilters(w, r)
	if !ok {
		return
	}
	s.list(w, r, "listing referral links", func(ctx context.Context, tx pgx.Tx, org uuid.UUID) (any, error) {
		return ledger.ListPage(ctx, tx, org, ledger.Query[linkObject]{Table: "referral_links", Columns: linkColumns, Where: `($4::uuid IS NULL OR affiliate_id = $4) AND ($5::uuid IS NULL OR campaign_id = $5)`, Scan: s.scanLink}, page, affiliate, campaign)
	})
}

type updateLinkRequest struct {
	DestinationURL *string `json:"destination_url"`
}

func (s *Server) updateLink(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var req updateLinkRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	var destination string
	if req.DestinationURL != nil {
		var detail string
		if destination, detail = checkDestinationURL(*req.DestinationURL); detail != "" {
			validationFailed(w, r, []ledger.FieldError{{Field: "destination_url", Detail: detail}})
			return
		}
	}
	p := principalFrom(r.Context())
	var code string
	s.mutate(w, r, "updating a referral link", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		l, err := s.lockLink(ctx, tx, p.OrgID, id)
		code = l.Code
		if err != nil || destination == "" || destination == l.DestinationURL {
			return http.StatusOK, l, err
		}
		updated, err := s.scanLink(tx.QueryRow(ctx, `UPDATE referral_links SET destination_url = $3, updated_at = now()
			WHERE org_id = $1 AND id = $2 RETURNING `+linkColumns, p.OrgID, id, destination))
		if err != nil {
			return 0, nil, err
		}
		_, err = s.sealer.Append(ctx, tx, p.OrgID, s.auditEntry(r, "link.updated", "referral_link", id.String(),
			map[string]any{"changed": []string{"destination_url"}}))
		return http.StatusOK, updated, err
	}, func() { s.links.evict(code) })
}

// disableLink stops the link's code from redirecting, for good. Its route
// key stays, so the code remains reserved to this link: a copy of the link
// still shared somewhere can never lead to another merchant.
func (s *Server) disableLink(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	var code string
	s.mutate(w, r, "disabling a referral link", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		l, err := s.lockLink(ctx, tx, p.OrgID, id)
		code = l.Code
		if err != nil || l.DisabledAt != nil {
			return http.StatusOK, l, err
		}
		disabled, err := s.scanLink(tx.QueryRow(ctx, `UPDATE referral_links SET disabled_at = now(), updated_at = now()
			WHERE org_id = $1 AND id = $2 RETURNING `+linkColumns, p.OrgID, id))
		if err != nil {
			return 0, nil, err
		}
		_, err = s.sealer.Append(ctx, tx, p.OrgID, s.auditEntry(r, "link.disabled", "referral_link", id.String(), map[string]any{"code": l.Code}))
		return http.StatusOK, disabled, err
	}, func() { s.links.evict(code) })
}
