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
	"fmt"
	"strings"
)

// Error makes a FieldErrors list an error, for a verb that can judge its
// input only against stored state.
func (e FieldErrors) Error() string {
	fields := make([]string, len(e))
	for i, f := range e {
		fields[i] = f.Field
	}
	return "invalid " + strings.Join(fields, ", ")
}

// Refusal is a valid request the ledger's rules or state refuse: Code is
// a stable identifier of the reason (the API's problem type), Title says
// it in a sentence, Detail what to do instead.
type Refusal struct {
	Kind        RefusalKind
	Code, Title string
	Detail      string
}

// RefusalKind says what refused a request.
type RefusalKind int

const (
	// Conflict: the current state of the object refuses the change.
	Conflict RefusalKind = iota
	// Unprocessable: a rule of the program refuses the change.
	Unprocessable
)

func (r *Refusal) Error() string { return fmt.Sprintf("%s: %s", r.Code, r.Title) }

// conflict is a refusal by the object's current state.
func conflict(title, detail string) *Refusal {
	return &Refusal{Kind: Conflict, Code: "conflict", Title: title, Detail: detail}
}
