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

package db

import (
	"errors"
	"fmt"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The errors stores return; handlers switch on these, never on SQLSTATE.
var (
	// ErrNotFound: no row matched (or row-level security hid it, which looks
	// the same on purpose).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique key is already taken within the organization.
	ErrConflict = errors.New("conflict")
	// ErrReference: a referenced row does not exist in the organization.
	ErrReference = errors.New("referenced row does not exist")
	// ErrInvalid: a value broke a check constraint.
	ErrInvalid = errors.New("invalid value")
	// ErrForbidden: the database refused the statement, for example a write
	// to the append-only audit log or a row of another organization.
	ErrForbidden = errors.New("refused by the database")
)

// MapError translates a driver error into one of the sentinels above,
// wrapped with the constraint or table it concerns; other errors are
// returned as they are. The driver's message is not kept, since it may quote
// the offending values.
func MapError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	switch pgErr.Code {
	case pgerrcode.UniqueViolation:
		return fmt.Errorf("%w: %s", ErrConflict, pgErr.ConstraintName)
	case pgerrcode.ForeignKeyViolation:
		return fmt.Errorf("%w: %s", ErrReference, pgErr.ConstraintName)
	case pgerrcode.CheckViolation, pgerrcode.NotNullViolation:
		return fmt.Errorf("%w: %s", ErrInvalid, firstNonEmpty(pgErr.ConstraintName, pgErr.ColumnName))
	case pgerrcode.InsufficientPrivilege:
		return fmt.Errorf("%w: %s", ErrForbidden, firstNonEmpty(pgErr.TableName, pgErr.Message))
	}
	return err
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// Wrap prefixes err with what was being done, keeping nil nil, for the
// many steps whose error is returned as it is or not at all.
func Wrap(doing string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", doing, err)
}
