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

package stripemock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Filter is an http.Handler in front of stripe-mock, which shows every
// account id to every key with a canned account whose transfers are
// active. It plays what stripe-mock cannot: an account a given key may not
// see (answered 404 with Stripe's error body) and an account whose JSON is
// changed (a capability that is not active). Everything else goes to
// stripe-mock unchanged.
type Filter struct {
	proxy *httputil.ReverseProxy

	mu     sync.Mutex
	hidden map[[2]string]bool
	edits  map[string]func(map[string]any)
}

// NewFilter forwards to the stripe-mock at upstream (its base URL).
func NewFilter(upstream string) (*Filter, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, fmt.Errorf("parsing stripe-mock's URL: %w", err)
	}
	f := &Filter{hidden: map[[2]string]bool{}, edits: map[string]func(map[string]any){}}
	f.proxy = httputil.NewSingleHostReverseProxy(u)
	f.proxy.ModifyResponse = f.editAccount
	return f, nil
}

// StartFiltered starts stripe-mock and a Filter in front of it until the
// test ends, and returns the Filter and the URL to give the Stripe client.
func StartFiltered(tb testing.TB) (*Filter, string) {
	tb.Helper()
	f, err := NewFilter(Start(tb))
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(f)
	tb.Cleanup(srv.Close)
	return f, srv.URL
}

// Hide makes account invisible to the secret key key: GET
// /v1/accounts/{account} and any request naming it as destination answer
// 404, as Stripe does for an account that is not connected to the key's
// platform.
func (f *Filter) Hide(key, account string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hidden[[2]string{key, account}] = true
}

// EditAccount changes the JSON of account as GET /v1/accounts/{account}
// answers it, for every key.
func (f *Filter) EditAccount(account string, edit func(map[string]any)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.edits[account] = edit
}

// ServeHTTP answers 404 for a hidden account and forwards the rest.
func (f *Filter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	account, ok := strings.CutPrefix(r.URL.Path, "/v1/accounts/")
	if !ok && r.Method == http.MethodPost && r.URL.Path == "/v1/transfers" {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		account = form.Get("destination")
	}
	f.mu.Lock()
	hidden := f.hidden[[2]string{key, account}]
	f.mu.Unlock()
	if hidden {
		notFound(w, account)
		return
	}
	f.proxy.ServeHTTP(w, r)
}

// notFound is Stripe's answer for an account the key cannot see.
func notFound(w http.ResponseWriter, account string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"code":    "resource_missing",
		"message": "No such account: '" + account + "'",
		"param":   "account",
		"type":    "invalid_request_error",
	}})
}

// editAccount applies the edit registered for the account a successful GET
// /v1/accounts/{id} returned.
func (f *Filter) editAccount(resp *http.Response) error {
	account, ok := strings.CutPrefix(resp.Request.URL.Path, "/v1/accounts/")
	if !ok || resp.Request.Method != http.MethodGet || resp.StatusCode != http.StatusOK {
		return nil
	}
	f.mu.Lock()
	edit := f.edits[account]
	f.mu.Unlock()
	if edit == nil {
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("reading stripe-mock's account: %w", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		return fmt.Errorf("decoding stripe-mock's account: %w", err)
	}
	edit(doc)
	if body, err = json.Marshal(doc); err != nil {
		return fmt.Errorf("encoding the edited account: %w", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	resp.Header.Del("Content-Encoding")
	return nil
}
