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

package pgroles

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Sentinel errors; the returned errors wrap them with details.
var (
	// ErrInvalidSpec reports a Spec or grants map that cannot be applied.
	ErrInvalidSpec = errors.New("invalid role specification")
	// ErrSuperuserRequired reports drift that PostgreSQL lets only a
	// superuser repair, found while the admin is not one.
	ErrSuperuserRequired = errors.New("a superuser is required")
	// ErrUnknownTable reports a grants entry naming a table that the schema
	// does not have.
	ErrUnknownTable = errors.New("table not found")
	// ErrUnknownColumn reports a column privilege naming a column that its
	// table does not have.
	ErrUnknownColumn = errors.New("column not found")
	// ErrDriftRemains reports that the catalog still differs from the
	// specification after the changes were applied.
	ErrDriftRemains = errors.New("catalog still differs after applying changes")
)

// DefaultSchema is the schema used when Spec.Schema is empty.
const DefaultSchema = "public"

// Role is a login role and its password.
type Role struct {
	Name     string
	Password string
}

// Spec describes a Region's database and its two roles.
type Spec struct {
	// Database is the Region's database, owned by Owner.
	Database string
	// Schema holds the app's tables; DefaultSchema when empty.
	Schema string
	// Owner owns the database, the schema and the tables, and runs migrations.
	Owner Role
	// Runtime is the role the app logs in as; it owns nothing.
	Runtime Role
}

// Privilege is a table privilege the runtime role may be granted.
type Privilege string

// The table privileges a grants map may hold.
const (
	Select Privilege = "SELECT"
	Insert Privilege = "INSERT"
	Update Privilege = "UPDATE"
	Delete Privilege = "DELETE"
)

// Column limits p (SELECT, INSERT or UPDATE) to one column of its table:
// Column(Update, "revoked_at") is GRANT UPDATE (revoked_at).
func Column(p Privilege, column string) Privilege {
	return p + "(" + Privilege(column) + ")"
}

var (
	identRE       = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
	reservedRoles = []string{"public", "none", "postgres", "current_user", "current_role", "session_user"}
	reservedDBs   = []string{"postgres", "template0", "template1"}
)

// normalized validates s and fills in defaults.
func (s Spec) normalized() (Spec, error) {
	if s.Schema == "" {
		s.Schema = DefaultSchema
	}
	if err := validateName("database", s.Database, reservedDBs); err != nil {
		return s, err
	}
	if err := validateName("schema", s.Schema, nil); err != nil {
		return s, err
	}
	for _, r := range []struct {
		what string
		role Role
	}{{"owner role", s.Owner}, {"runtime role", s.Runtime}} {
		if err := validateName(r.what, r.role.Name, reservedRoles); err != nil {
			return s, err
		}
		if err := validatePassword(r.what, r.role.Password); err != nil {
			return s, err
		}
	}
	if s.Owner.Name == s.Runtime.Name {
		return s, fmt.Errorf("%w: owner and runtime roles are both %q; they must differ", ErrInvalidSpec, s.Owner.Name)
	}
	return s, nil
}

// validateName accepts lower-case unquoted identifiers that PostgreSQL does
// not reserve.
func validateName(what, name string, reserved []string) error {
	if !identRE.MatchString(name) {
		return fmt.Errorf("%w: %s name %q must match %s", ErrInvalidSpec, what, name, identRE)
	}
	if strings.HasPrefix(name, "pg_") {
		return fmt.Errorf("%w: %s name %q must not start with pg_ (reserved by PostgreSQL)", ErrInvalidSpec, what, name)
	}
	for _, r := range reserved {
		if name == r {
			return fmt.Errorf("%w: %s name %q is reserved", ErrInvalidSpec, what, name)
		}
	}
	return nil
}

// validatePassword accepts printable ASCII only. SASLprep leaves such
// passwords unchanged, so the verifier computed here is the one PostgreSQL
// and every client compute. The password itself never appears in the error.
func validatePassword(what, password string) error {
	if password == "" {
		return fmt.Errorf("%w: the %s has an empty password", ErrInvalidSpec, what)
	}
	if len(password) > 1024 {
		return fmt.Errorf("%w: the %s password is longer than 1024 bytes", ErrInvalidSpec, what)
	}
	for i := 0; i < len(password); i++ {
		if c := password[i]; c < 0x20 || c > 0x7e {
			return fmt.Errorf("%w: the %s password must be printable ASCII", ErrInvalidSpec, what)
		}
	}
	return nil
}

// validateGrants checks grants and returns the privilege names per table,
// sorted: SELECT, INSERT, UPDATE and DELETE on a table, or SELECT, INSERT
// and UPDATE on one column ("UPDATE(revoked_at)", see Column).
func validateGrants(grants map[string][]Privilege) (map[string][]string, error) {
	out := make(map[string][]string, len(grants))
	for table, privs := range grants {
		if table == "" || len(table) > 63 {
			return nil, fmt.Errorf("%w: table name %q must have 1 to 63 bytes", ErrInvalidSpec, table)
		}
		names := make([]string, 0, len(privs))
		for _, p := range privs {
			if err := validatePrivilege(p); err != nil {
				return nil, fmt.Errorf("%w: privilege %q on table %q: %w", ErrInvalidSpec, p, table, err)
			}
			names = append(names, string(p))
		}
		out[table] = sortedSet(names)
	}
	return out, nil
}

// validatePrivilege says what is wrong with p, or nil.
func validatePrivilege(p Privilege) error {
	base, column, onColumn := columnPrivilege(string(p))
	switch {
	case !onColumn && slices.Contains([]Privilege{Select, Insert, Update, Delete}, p):
		return nil
	case !onColumn:
		return errors.New("only SELECT, INSERT, UPDATE and DELETE may be granted")
	case !slices.Contains([]Privilege{Select, Insert, Update}, Privilege(base)):
		return errors.New("only SELECT, INSERT and UPDATE may be granted on a column")
	case !identRE.MatchString(column):
		return fmt.Errorf("column name must match %s", identRE)
	}
	return nil
}
