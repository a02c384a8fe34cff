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

package storable

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxNumberDigits bounds the digits a JSON number kept as a number may
// need on either side of its decimal point: PostgreSQL's numeric, which
// jsonb stores numbers as, takes far more (131072 before, 16383 after),
// and no provider's event comes near.
const maxNumberDigits = 1000

// JSON returns the JSON document doc as a jsonb column takes it. jsonb
// refuses what JSON allows and a signed event may carry in text its
// provider's customers typed (an order note): NUL (\u0000), invalid UTF-8
// and unpaired surrogate escapes, numbers past numeric's range. In strings
// and keys NUL is removed and the others become U+FFFD, as Text does; a
// number that needs more than maxNumberDigits digits on either side of its
// point is kept as a string of its text. A document that needs none of
// that is returned as it is; doc must be valid JSON.
func JSON(doc []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decoding the document: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("decoding the document: more than one value")
	}
	// The decoder has already replaced invalid UTF-8 and unpaired
	// surrogates; it said nothing, so their presence is looked for here.
	changed := !utf8.Valid(doc) || bytes.Contains(bytes.ToLower(doc), []byte(`\ud`))
	v, changed = storableValue(v, changed)
	if !changed {
		return doc, nil
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encoding the document: %w", err)
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}

// storableValue is v with its strings, keys and numbers made storable,
// and whether anything changed (or changed before).
func storableValue(v any, changed bool) (any, bool) {
	switch v := v.(type) {
	case string:
		s := strings.ReplaceAll(v, "\x00", "")
		return s, changed || s != v
	case json.Number:
		if numberFits(v) {
			return v, changed
		}
		return string(v), true
	case []any:
		for i, e := range v {
			v[i], changed = storableValue(e, changed)
		}
		return v, changed
	case map[string]any:
		out := make(map[string]any, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			sk := strings.ReplaceAll(k, "\x00", "")
			e, eChanged := storableValue(v[k], false)
			changed = changed || eChanged || sk != k
			if _, clean := v[sk]; sk != k && clean {
				continue // a key NUL made equal to one without: the one without wins
			}
			out[sk] = e
		}
		return out, changed
	}
	return v, changed
}

// numberFits says whether the JSON number n needs at most maxNumberDigits
// digits on each side of its decimal point.
func numberFits(n json.Number) bool {
	mantissa, exp := strings.ToLower(string(n)), int64(0)
	if i := strings.IndexByte(mantissa, 'e'); i >= 0 {
		var err error
		if exp, err = strconv.ParseInt(mantissa[i+1:], 10, 32); err != nil {
			return false
		}
		mantissa = mantissa[:i]
	}
	whole, frac, _ := strings.Cut(strings.TrimPrefix(mantissa, "-"), ".")
	whole = strings.TrimLeft(whole, "0") // numeric's scale counts a fraction's trailing zeros
	before := int64(len(whole)) + exp
	after := int64(len(frac)) - exp
	return before <= maxNumberDigits && after <= maxNumberDigits
}
