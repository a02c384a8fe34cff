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
	"strconv"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/ledger"
)

// decodeCampaignCreate reads and validates the body of a create. On
// failure it has written the problem and returns false.
func decodeCampaignCreate(w http.ResponseWriter, r *http.Request) (ledger.Campaign, bool) {
	var ch ledger.CampaignChanges
	if !decodeJSON(w, r, &ch) {
		return ledger.Campaign{}, false
	}
	c, errs := ledger.NewCampaign(ch)
	if len(errs) > 0 {
		validationFailed(w, r, errs)
		return ledger.Campaign{}, false
	}
	return c, true
}

func (s *Server) createCampaign(w http.ResponseWriter, r *http.Request) {
	c, ok := decodeCampaignCreate(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	s.mutate(w, r, "creating a campaign", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		created, err := ledger.CreateCampaign(ctx, tx, p.OrgID, s.requestRecorder(r), c)
		return http.StatusCreated, created, err
	})
}

func (s *Server) getCampaign(w http.ResponseWriter, r *http.Request) {
	getOne(s, w, r, "reading a campaign", ledger.GetCampaign)
}

func (s *Server) listCampaigns(w http.ResponseWriter, r *http.Request) {
	page, ok := parsePage(w, r)
	if !ok {
		return
	}
	includeArchived, err := strconv.ParseBool(r.URL.Query().Get("include_archived"))
	if v := r.URL.Query().Get("include_archived"); v != "" && err != nil {
		invalidQuery(w, r, "Invalid query", []ledger.FieldError{{Field: "include_archived", Detail: "must be true or false"}})
		return
	}
	s.list(w, r, "listing campaigns", func(ctx context.Context, tx pgx.Tx, org uuid.UUID) (any, error) {
		return ledger.ListCampaigns(ctx, tx, org, page, includeArchived)
	})
}

func (s *Server) updateCampaign(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var ch ledger.CampaignChanges
	if !decodeJSON(w, r, &ch) {
		return
	}
	p := principalFrom(r.Context())
	s.mutate(w, r, "updating a campaign", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		c, err := ledger.UpdateCampaign(ctx, tx, p.OrgID, s.requestRecorder(r), id, ch)
		return http.StatusOK, c, err
	}, func() { s.links.evictCampaign(p.OrgID, id) }) // its links' cookies last its attribution window
}

func (s *Server) archiveCampaign(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	s.mutate(w, r, "archiving a campaign", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		c, err := ledger.ArchiveCampaign(ctx, tx, p.OrgID, s.requestRecorder(r), id)
		return http.StatusOK, c, err
	})
}
