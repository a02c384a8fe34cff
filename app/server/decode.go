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
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/rekomi/rekomi/app/ledger"
)

// decodeJSON reads a JSON object body into v, strictly: the media type must
// be JSON, the body valid UTF-8 within the size limit, every field known and
// of the right type, and nothing after the object. On failure it has written
// the problem and returns false.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "application/json" {
		writeProblem(w, r, Problem{Type: "unsupported_media_type", Title: "The body must be application/json",
			Status: http.StatusUnsupportedMediaType})
		return false
	}
	body, ok := readBody(w, r)
	if !ok {
		return false
	}
	if !utf8.Valid(body) {
		writeProblem(w, r, Problem{Type: "invalid_json", Title: "The body is not valid UTF-8", Status: http.StatusBadRequest})
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeProblem(w, r, Problem{Type: "invalid_json", Title: "The body is not the expected JSON object",
			Status: http.StatusBadRequest, Detail: describeJSONError(err)})
		return false
	}
	if dec.More() {
		writeProblem(w, r, Problem{Type: "invalid_json", Title: "The body has data after the JSON object", Status: http.StatusBadRequest})
		return false
	}
	return true
}

// readBody reads the whole body within the size limit. On failure it has
// written the problem and returns false.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(r.Body)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		writeProblem(w, r, Problem{Type: "body_too_large", Title: "The request body is too large",
			Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("at most %d bytes", tooLarge.Limit)})
		return nil, false
	}
	if err != nil {
		writeProblem(w, r, Problem{Type: "invalid_request", Title: "The request body could not be read", Status: http.StatusBadRequest})
		return nil, false
	}
	return body, true
}

// describeJSONError says what was wrong without echoing the body.
func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return fmt.Sprintf("field %q must be %s", typeErr.Field, typeErr.Type.String())
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("malformed JSON at byte %d", syntaxErr.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	case errors.Is(err, io.EOF):
		return "the body is empty"
	}
	return "malformed JSON"
}

// validationFailed answers 422 with one entry per invalid field.
func validationFailed(w http.ResponseWriter, r *http.Request, errs []ledger.FieldError) {
	writeProblem(w, r, Problem{Type: "validation_failed", Title: "Some fields are invalid",
		Status: http.StatusUnprocessableEntity, Errors: errs})
}

// invalidQuery answers 400 with one entry per invalid query parameter;
// title says which query, such as "Invalid query".
func invalidQuery(w http.ResponseWriter, r *http.Request, title string, errs []ledger.FieldError) {
	writeProblem(w, r, Problem{Type: "invalid_request", Title: title, Status: http.StatusBadRequest, Errors: errs})
}
