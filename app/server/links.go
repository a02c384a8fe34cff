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
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/ledger"
)

// withURL sets l's public URL, where the affiliate sends visitors.
func (s *Server) withURL(l ledger.Link) ledger.Link {
	l.URL = strings.TrimRight(s.cfg.PublicBaseURL, "/") + "/r/" + l.Code
	return l
}

type createLinkRequest struct {
	AffiliateID    *string `json:"affiliate_id"`
	CampaignID     *string `json:"campaign_id"`
	DestinationURL *string `json:"destination_url"`
	Code           *string `json:"code"`
}

func (req createLinkRequest) validate() (ledger.NewLink, ledger.FieldErrors) {
	var in ledger.NewLink
	var errs ledger.FieldErrors
	parseID := func(field string, v *string, into *uuid.UUID) {
		var err error
		switch {
		case v == nil:
			errs.Add(field, "is required")
		default:
			if *into, err = uuid.Parse(*v); err != nil {
				errs.Add(field, "must be an object id")
			}
		}
	}
	parseID("affiliate_id", req.AffiliateID, &in.AffiliateID)
	parseID("campaign_id", req.CampaignID, &in.CampaignID)
	if req.DestinationURL == nil {
		errs.Add("destination_url", "is required")
	} else {
		var detail string
		if in.DestinationURL, detail = ledger.CheckDestinationURL(*req.DestinationURL); detail != "" {
			errs.Add("destination_url", detail)
		}
	}
	if req.Code != nil {
		if !ledger.ValidReferralCode(*req.Code) {
			errs.Add("code", "must be 4 to 64 letters, digits, _ or -")
		}
		in.Code = *req.Code
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
	p := principalFrom(r.Context())
	code := in.Code
	s.mutate(w, r, "creating a referral link", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		l, err := ledger.CreateLink(ctx, tx, p.OrgID, s.requestRecorder(r), in)
		code = l.Code
		return http.StatusCreated, s.withURL(l), err
	}, func() { s.links.evict(code) }) // the code may be remembered as unknown
}

func (s *Server) getLink(w http.ResponseWriter, r *http.Request) {
	getOne(s, w, r, "reading a referral link", func(ctx context.Context, tx pgx.Tx, org, id uuid.UUID) (ledger.Link, error) {
		l, err := ledger.GetLink(ctx, tx, org, id)
		return s.withURL(l), err
	})
}

func (s *Server) listLinks(w http.ResponseWriter, r *http.Request) {
	page, ok := parsePage(w, r)
	if !ok {
		return
	}
	q := queryFilter{q: r.URL.Query()}
	f := ledger.LinkFilter{AffiliateID: q.uuid("affiliate_id"), CampaignID: q.uuid("campaign_id")}
	if !q.ok(w, r) {
		return
	}
	s.list(w, r, "listing referral links", func(ctx context.Context, tx pgx.Tx, org uuid.UUID) (any, error) {
		links, err := ledger.ListLinks(ctx, tx, org, page, f)
		for i, l := range links.Data {
			links.Data[i] = s.withURL(l)
		}
		return links, err
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
	var ch ledger.LinkChanges
	if req.DestinationURL != nil {
		destination, detail := ledger.CheckDestinationURL(*req.DestinationURL)
		if detail != "" {
			validationFailed(w, r, []ledger.FieldError{{Field: "destination_url", Detail: detail}})
			return
		}
		ch.DestinationURL = &destination
	}
	p := principalFrom(r.Context())
	var code string
	s.mutate(w, r, "updating a referral link", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		l, err := ledger.UpdateLink(ctx, tx, p.OrgID, s.requestRecorder(r), id, ch)
		code = l.Code
		return http.StatusOK, s.withURL(l), err
	}, func() { s.links.evict(code) })
}

// disableLink stops the link's code from redirecting, for good (see
// ledger.DisableLink).
func (s *Server) disableLink(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	var code string
	s.mutate(w, r, "disabling a referral link", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		l, err := ledger.DisableLink(ctx, tx, p.OrgID, s.requestRecorder(r), id)
		code = l.Code
		return http.StatusOK, s.withURL(l), err
	}, func() { s.links.evict(code) })
}
