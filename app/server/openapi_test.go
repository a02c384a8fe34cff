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

package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/server"
)

// openAPIMethods are the operation keys of an OpenAPI path item.
var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// loadOpenAPI reads the document as it is embedded.
func loadOpenAPI(t *testing.T) ([]byte, map[string]any) {
	t.Helper()
	raw, err := os.ReadFile("openapi.json")
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc), "openapi.json is not JSON")
	return raw, doc
}

// documentedRoutes returns "METHOD /path" for every operation in paths.
func documentedRoutes(t *testing.T, doc map[string]any) []string {
	t.Helper()
	paths, ok := doc["paths"].(map[string]any)
	require.True(t, ok, "paths is not an object")
	var routes []string
	for path, item := range paths {
		ops, ok := item.(map[string]any)
		require.True(t, ok, "path item %s is not an object", path)
		for method := range ops {
			if slices.Contains(openAPIMethods, method) {
				routes = append(routes, strings.ToUpper(method)+" "+path)
			}
		}
	}
	slices.Sort(routes)
	return routes
}

// apiRoutes drops the routes under /admin. Those are the admin pages:
// HTML forms for a browser, behind a session cookie, not API operations a
// client codes against, so the API's description leaves them out.
func apiRoutes(routes []string) []string {
	return slices.DeleteFunc(slices.Clone(routes), func(route string) bool {
		_, path, _ := strings.Cut(route, " ")
		return path == "/admin" || strings.HasPrefix(path, "/admin/")
	})
}

// missingFrom returns the elements of want that have lacks.
func missingFrom(want, have []string) []string {
	var out []string
	for _, w := range want {
		if !slices.Contains(have, w) {
			out = append(out, w)
		}
	}
	return out
}

// collectRefs walks v and returns every $ref value.
func collectRefs(v any) []string {
	var refs []string
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if s, ok := child.(string); ok && k == "$ref" {
				refs = append(refs, s)
				continue
			}
			refs = append(refs, collectRefs(child)...)
		}
	case []any:
		for _, child := range v {
			refs = append(refs, collectRefs(child)...)
		}
	}
	return refs
}

// resolve follows a local JSON pointer such as #/components/schemas/Campaign.
func resolve(doc map[string]any, ref string) (any, bool) {
	pointer, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, false
	}
	var cur any = doc
	for _, part := range strings.Split(pointer, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// schemaMismatches checks value against schema's $ref, allOf, oneOf,
// const, required property names, properties and array items, and returns
// what does not fit, each prefixed with where.
func schemaMismatches(t *testing.T, doc map[string]any, schema map[string]any, value any, where string) []string {
	t.Helper()
	if ref, ok := schema["$ref"].(string); ok {
		target, found := resolve(doc, ref)
		require.True(t, found, "%s: unresolved %s", where, ref)
		return schemaMismatches(t, doc, target.(map[string]any), value, where)
	}
	var out []string
	for _, sub := range asSlice(schema["allOf"]) {
		out = append(out, schemaMismatches(t, doc, sub.(map[string]any), value, where)...)
	}
	if oneOf := asSlice(schema["oneOf"]); len(oneOf) > 0 {
		matched := 0
		for _, sub := range oneOf {
			if len(schemaMismatches(t, doc, sub.(map[string]any), value, where)) == 0 {
				matched++
			}
		}
		if matched != 1 {
			out = append(out, where+": matches "+strconv.Itoa(matched)+" of the oneOf schemas, not 1")
		}
	}
	if !hasType(schema["type"], value) {
		out = append(out, where+": is not of type "+fmt.Sprint(schema["type"]))
	}
	if c, ok := schema["const"]; ok && c != value {
		out = append(out, where+": is not the const")
	}
	if obj, ok := value.(map[string]any); ok {
		for _, name := range asSlice(schema["required"]) {
			if _, present := obj[name.(string)]; !present {
				out = append(out, where+"."+name.(string)+": required but absent")
			}
		}
		props, _ := schema["properties"].(map[string]any)
		for name, v := range obj {
			prop, known := props[name].(map[string]any)
			switch {
			case known:
				out = append(out, schemaMismatches(t, doc, prop, v, where+"."+name)...)
			case schema["additionalProperties"] == false:
				out = append(out, where+"."+name+": not allowed")
			}
		}
	}
	if arr, ok := value.([]any); ok {
		if items, ok := schema["items"].(map[string]any); ok {
			for _, v := range arr {
				out = append(out, schemaMismatches(t, doc, items, v, where+"[]")...)
			}
		}
	}
	return out
}

// hasType says whether value, decoded from JSON, is of the schema's type:
// one name or a list of names; a schema without a type takes any value.
func hasType(types any, value any) bool {
	names := asSlice(types)
	if name, ok := types.(string); ok {
		names = []any{name}
	}
	if len(names) == 0 {
		return true
	}
	for _, name := range names {
		switch v := value.(type) {
		case nil:
			if name == "null" {
				return true
			}
		case bool:
			if name == "boolean" {
				return true
			}
		case float64:
			if name == "number" || (name == "integer" && v == float64(int64(v))) {
				return true
			}
		case string:
			if name == "string" {
				return true
			}
		case []any:
			if name == "array" {
				return true
			}
		case map[string]any:
			if name == "object" {
				return true
			}
		}
	}
	return false
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// responseSchema is the JSON schema of an operation's answer with status.
func responseSchema(t *testing.T, doc map[string]any, method, path, status, mediaType string) map[string]any {
	t.Helper()
	r, ok := resolve(doc, "#/paths/"+strings.ReplaceAll(path, "/", "~1")+"/"+method+"/responses/"+status)
	require.True(t, ok, "%s %s documents no %s response", method, path, status)
	if ref, isRef := r.(map[string]any)["$ref"].(string); isRef {
		r, ok = resolve(doc, ref)
		require.True(t, ok)
	}
	schema, ok := resolve(map[string]any{"r": r}, "#/r/content/"+strings.ReplaceAll(mediaType, "/", "~1")+"/schema")
	require.True(t, ok, "%s %s %s has no %s schema", method, path, status, mediaType)
	return schema.(map[string]any)
}

func TestOpenAPI(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	raw, doc := loadOpenAPI(t)

	t.Run("DescribesEveryRouteAndNoOther", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv)
		routes := server.New(config.Defaults(), b.db, slog.New(slog.DiscardHandler)).Routes()
		require.True(t, slices.IsSorted(routes), "Routes() is not sorted")
		require.Contains(t, routes, "GET /admin")
		routes = apiRoutes(routes)
		require.Contains(t, routes, "GET /openapi.json")
		require.Equal(t, "3.1.0", doc["openapi"])
		documented := documentedRoutes(t, doc)
		assert.Empty(t, missingFrom(routes, documented), "routes the document does not describe")
		assert.Empty(t, missingFrom(documented, routes), "operations in the document that are not routes")
		require.Equal(t, routes, documented)
	})

	t.Run("OperationsAreComplete", func(t *testing.T) {
		t.Parallel()
		seen := map[string]string{}
		for _, route := range documentedRoutes(t, doc) {
			method, path, _ := strings.Cut(route, " ")
			op, _ := resolve(doc, "#/paths/"+strings.ReplaceAll(path, "/", "~1")+"/"+strings.ToLower(method))
			o := op.(map[string]any)
			id, _ := o["operationId"].(string)
			require.NotEmpty(t, id, "%s has no operationId", route)
			require.NotContains(t, seen, id, "%s repeats the operationId of %s", route, seen[id])
			seen[id] = route
			require.NotEmpty(t, o["summary"], "%s has no summary", route)
			require.NotEmpty(t, o["responses"], "%s has no responses", route)
			if strings.Contains(path, "{id}") {
				require.Contains(t, string(mustJSON(t, o["parameters"])), "#/components/parameters/Id", "%s lacks its id parameter", route)
			}
		}
	})

	t.Run("EveryRefResolves", func(t *testing.T) {
		t.Parallel()
		refs := collectRefs(doc)
		require.NotEmpty(t, refs)
		for _, ref := range refs {
			_, ok := resolve(doc, ref)
			require.True(t, ok, "%s does not resolve", ref)
		}
	})

	t.Run("ServedAsEmbedded", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv)
		resp := b.get(t, "/openapi.json")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, raw, body)
	})

	t.Run("RealAnswersFitTheSchemas", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv, func(c *config.Config) { c.MaxBodyBytes = 1 << 16 })
		_, key := b.seedOrg(t, "openapi", "read", "write")
		check := func(method, path, status, mediaType string, resp *http.Response, body any) {
			t.Helper()
			require.Equal(t, status, strconv.Itoa(resp.StatusCode), "%s %s", method, path)
			schema := responseSchema(t, doc, method, path, status, mediaType)
			require.Empty(t, schemaMismatches(t, doc, schema, body, method+" "+path), "the answer does not fit the schema")
		}
		var v any
		resp := b.call(t, http.MethodPost, "/v1/campaigns", key, js,
			strings.NewReader(`{"name":"Spring","currency":"EUR","commission":{"type":"flat","amount":500},"recurrence":{"type":"recurring","months":12}}`), &v)
		check("post", "/v1/campaigns", "201", js, resp, v)
		id := v.(map[string]any)["id"].(string)

		v = nil
		resp = b.call(t, http.MethodPost, "/v1/campaigns/"+id+"/archive", key, "", nil, &v)
		check("post", "/v1/campaigns/{id}/archive", "200", js, resp, v)

		v = nil
		resp = b.call(t, http.MethodGet, "/v1/campaigns?include_archived=true", key, "", nil, &v)
		check("get", "/v1/campaigns", "200", js, resp, v)

		v = nil
		resp = b.call(t, http.MethodPost, "/v1/api-keys", key, js, strings.NewReader(`{"name":"ci","scopes":["read"]}`), &v)
		check("post", "/v1/api-keys", "201", js, resp, v)

		v = nil
		resp = b.call(t, http.MethodGet, "/v1/api-keys", key, "", nil, &v)
		check("get", "/v1/api-keys", "200", js, resp, v)
		require.Len(t, v.(map[string]any)["data"], 2)

		v = nil
		resp = b.call(t, http.MethodGet, "/v1/audit-log", key, "", nil, &v)
		check("get", "/v1/audit-log", "200", js, resp, v)

		v = nil
		resp = b.call(t, http.MethodGet, "/v1/audit-log/verify", key, "", nil, &v)
		check("get", "/v1/audit-log/verify", "200", js, resp, v)

		v = nil
		resp = b.call(t, http.MethodPost, "/v1/campaigns", key, js, strings.NewReader(`{"name":""}`), &v)
		check("post", "/v1/campaigns", "422", "application/problem+json", resp, v)

		v = nil
		resp = b.call(t, http.MethodGet, "/v1/campaigns", "", "", nil, &v)
		check("get", "/v1/campaigns", "401", "application/problem+json", resp, v)

		v = nil
		resp = b.call(t, http.MethodGet, "/healthz", "", js, strings.NewReader(strings.Repeat("x", 1<<16+1)), &v)
		check("get", "/healthz", "413", "application/problem+json", resp, v)
	})

	t.Run("TheCheckerCatchesAMismatch", func(t *testing.T) {
		t.Parallel()
		schema := map[string]any{"$ref": "#/components/schemas/Campaign"}
		bad := map[string]any{"object": "campaign", "commission": map[string]any{"type": "flat"}}
		require.NotEmpty(t, schemaMismatches(t, doc, schema, bad, "campaign"))
		require.Equal(t, []string{"GET /b"}, missingFrom([]string{"GET /a", "GET /b"}, []string{"GET /a"}))
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// TestOpenAPIListsEveryProblemType fails when the server can answer a
// problem type that the document's Problem schema does not list.
func TestOpenAPIListsEveryProblemType(t *testing.T) {
	_, doc := loadOpenAPI(t)
	described := doc["components"].(map[string]any)["schemas"].(map[string]any)["Problem"].(map[string]any)["properties"].(map[string]any)["type"].(map[string]any)["description"].(string)
	listed := map[string]bool{}
	for _, word := range strings.FieldsFunc(described, func(r rune) bool { return r == ',' || r == ' ' || r == '.' }) {
		listed[word] = true
	}
	files, err := os.ReadDir(".")
	require.NoError(t, err)
	used := regexp.MustCompile(`Problem\{Type: +"([a-z_]+)"`)
	for _, f := range files {
		if !strings.HasSuffix(f.Name(), ".go") || strings.HasSuffix(f.Name(), "_test.go") {
			continue
		}
		src, err := os.ReadFile(f.Name())
		require.NoError(t, err)
		for _, m := range used.FindAllStringSubmatch(string(src), -1) {
			assert.True(t, listed[m[1]], "%s answers problem type %s, which the Problem schema does not list", f.Name(), m[1])
		}
	}
}
