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

package billing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/ledger"
)

// Clerk effects keep members in step with the merchant's Clerk users: a
// member's external_user_id is the Clerk user id. user.created and
// user.updated create the member or update its email (the user's primary
// email address), a new member being a plain member; user.deleted deletes
// it. organizationMembership.created and .updated set its role (admin or
// org:admin is admin, any other role member, the least privilege), creating
// the member from the membership's identifier when the membership comes
// before the user; organizationMembership.deleted deletes the member, who
// no longer belongs to the organization. The owner is the operator's: no
// Clerk event changes its role or deletes it. Events are applied as they
// come: a user.created delivered after its user.deleted brings the member
// back.

// clerkEvent is a Svix-delivered Clerk event, its data still raw.
type clerkEvent struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// clerkUser is the data of a user.* event.
type clerkUser struct {
	ID                    string `json:"id"`
	PrimaryEmailAddressID string `json:"primary_email_address_id"`
	EmailAddresses        []struct {
		ID           string `json:"id"`
		EmailAddress string `json:"email_address"`
	} `json:"email_addresses"`
}

// clerkMembership is the data of an organizationMembership.* event.
type clerkMembership struct {
	Role           string `json:"role"`
	PublicUserData struct {
		UserID     string `json:"user_id"`
		Identifier string `json:"identifier"`
	} `json:"public_user_data"`
}

// clerkEffect is the effect of a Clerk event type, or nil.
func (fx *Effects) clerkEffect(eventType string) effect {
	switch eventType {
	case "user.created", "user.updated":
		return fx.clerkUserChanged
	case "user.deleted":
		return fx.clerkUserDeleted
	case "organizationMembership.created", "organizationMembership.updated":
		return fx.clerkMembershipChanged
	case "organizationMembership.deleted":
		return fx.clerkMembershipDeleted
	}
	return nil
}

// parseClerk decodes payload as a Clerk event and its data into data.
func parseClerk(payload []byte, data any) error {
	var e clerkEvent
	if err := json.Unmarshal(payload, &e); err != nil {
		return unusable("the payload is not a Clerk event: %w", err)
	}
	if len(e.Data) == 0 || string(e.Data) == "null" {
		return unusable("the event has no data")
	}
	if err := json.Unmarshal(e.Data, data); err != nil {
		return unusable("the event's data is not a %T: %w", data, err)
	}
	return nil
}

// validUserID checks a Clerk user id against members.external_user_id.
func validUserID(id string) error {
	if id == "" || utf8.RuneCountInString(id) > 255 || strings.ContainsRune(id, 0) || !utf8.ValidString(id) {
		return unusable("the user id %q is missing or not an id", id)
	}
	return nil
}

// primaryEmail is the user's primary email address.
func (u clerkUser) primaryEmail() (string, bool) {
	for _, a := range u.EmailAddresses {
		if a.ID == u.PrimaryEmailAddressID {
			return a.EmailAddress, ledger.ValidContactEmail(a.EmailAddress)
		}
	}
	return "", false
}

// memberRole maps a Clerk organization role to a member's role.
func memberRole(clerkRole string) string {
	switch clerkRole {
	case "admin", "org:admin":
		return "admin"
	}
	return "member"
}

func (fx *Effects) clerkUserChanged(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event) error {
	var u clerkUser
	if err := parseClerk(ev.Payload, &u); err != nil {
		return err
	}
	if err := validUserID(u.ID); err != nil {
		return err
	}
	email, ok := u.primaryEmail()
	if !ok {
		return unusable("user %s has no usable primary email address", u.ID)
	}
	return upsertMember(ctx, tx, org, fx.recorder(ev), memberChange{user: u.ID, email: email, setEmail: true})
}

func (fx *Effects) clerkMembershipChanged(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event) error {
	var m clerkMembership
	if err := parseClerk(ev.Payload, &m); err != nil {
		return err
	}
	if err := validUserID(m.PublicUserData.UserID); err != nil {
		return err
	}
	// The identifier is the user's email or username: an email names a
	// member the membership creates, never replaces the user's own.
	var email string
	if id := m.PublicUserData.Identifier; ledger.ValidContactEmail(id) {
		email = id
	}
	return upsertMember(ctx, tx, org, fx.recorder(ev),
		memberChange{user: m.PublicUserData.UserID, email: email, role: memberRole(m.Role)})
}

func (fx *Effects) clerkUserDeleted(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event) error {
	var u clerkUser
	if err := parseClerk(ev.Payload, &u); err != nil {
		return err
	}
	if err := validUserID(u.ID); err != nil {
		return err
	}
	return deleteMember(ctx, tx, org, fx.recorder(ev), u.ID)
}

func (fx *Effects) clerkMembershipDeleted(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event) error {
	var m clerkMembership
	if err := parseClerk(ev.Payload, &m); err != nil {
		return err
	}
	if err := validUserID(m.PublicUserData.UserID); err != nil {
		return err
	}
	return deleteMember(ctx, tx, org, fx.recorder(ev), m.PublicUserData.UserID)
}

// member is a member row as the Clerk effects read it.
type member struct {
	id          uuid.UUID
	email, role string
}

// memberChange is what an event says of a user's member: its email (the
// member's from now on if setEmail, else only for a new member) and its
// role ("" says nothing).
type memberChange struct {
	user, email, role string
	setEmail          bool
}

// upsertMember creates the user's member, or updates its email and its
// role (unless it is the owner), auditing what changed.
func upsertMember(ctx context.Context, tx pgx.Tx, org uuid.UUID, aud ledger.Recorder, c memberChange) error {
	var m member
	err := db.MapError(tx.QueryRow(ctx, `SELECT id, email, role FROM members WHERE org_id = $1 AND external_user_id = $2 FOR UPDATE`,
		org, c.user).Scan(&m.id, &m.email, &m.role))
	switch {
	case errors.Is(err, db.ErrNotFound):
		return createMember(ctx, tx, org, aud, c)
	case err != nil:
		return fmt.Errorf("reading the member of user %s: %w", c.user, err)
	}
	to := m
	if c.setEmail {
		to.email = c.email
	}
	if c.role != "" && m.role != "owner" {
		to.role = c.role
	}
	if to == m {
		return nil
	}
	if err := checkEmailFree(ctx, tx, org, c.user, to.email); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE members SET email = $3, role = $4, updated_at = now() WHERE org_id = $1 AND id = $2`,
		org, m.id, to.email, to.role)
	if err != nil {
		return fmt.Errorf("updating the member of user %s: %w", c.user, db.MapError(err))
	}
	return aud.Record(ctx, tx, org, "member.updated", "member", m.id.String(),
		map[string]any{"external_user_id": c.user, "role": to.role, "role_was": m.role},
		map[string]string{audit.FieldEmail: to.email, audit.FieldEmailWas: m.email})
}

// createMember adds the user's member, a plain member unless c says.
func createMember(ctx context.Context, tx pgx.Tx, org uuid.UUID, aud ledger.Recorder, c memberChange) error {
	if c.email == "" {
		return unusable("user %s is not a member yet and the event gives no email address", c.user)
	}
	if c.role == "" {
		c.role = "member"
	}
	if err := checkEmailFree(ctx, tx, org, c.user, c.email); err != nil {
		return err
	}
	var id uuid.UUID
	err := tx.QueryRow(ctx, `INSERT INTO members (org_id, external_user_id, email, role) VALUES ($1, $2, $3, $4) RETURNING id`,
		org, c.user, c.email, c.role).Scan(&id)
	if err != nil {
		return fmt.Errorf("creating the member of user %s: %w", c.user, db.MapError(err))
	}
	return aud.Record(ctx, tx, org, "member.created", "member", id.String(),
		map[string]any{"external_user_id": c.user, "role": c.role}, map[string]string{audit.FieldEmail: c.email})
}

// checkEmailFree refuses, as unusable, an email another member has: the
// event cannot take effect until that member changes.
func checkEmailFree(ctx context.Context, tx pgx.Tx, org uuid.UUID, user, email string) error {
	var taken bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM members WHERE org_id = $1 AND email = $2 AND external_user_id <> $3)`,
		org, email, user).Scan(&taken)
	switch {
	case err != nil:
		return fmt.Errorf("checking the email of user %s: %w", user, db.MapError(err))
	case taken:
		return unusable("another member has user %s's email address", user)
	}
	return nil
}

// deleteMember deletes user's member, unless it is the owner, auditing it.
func deleteMember(ctx context.Context, tx pgx.Tx, org uuid.UUID, aud ledger.Recorder, user string) error {
	var m member
	err := db.MapError(tx.QueryRow(ctx, `DELETE FROM members WHERE org_id = $1 AND external_user_id = $2 AND role <> 'owner'
		RETURNING id, email, role`, org, user).Scan(&m.id, &m.email, &m.role))
	switch {
	case errors.Is(err, db.ErrNotFound): // gone already, never there, or the owner
		return nil
	case err != nil:
		return fmt.Errorf("deleting the member of user %s: %w", user, err)
	}
	return aud.Record(ctx, tx, org, "member.deleted", "member", m.id.String(),
		map[string]any{"external_user_id": user, "role": m.role}, map[string]string{audit.FieldEmail: m.email})
}
