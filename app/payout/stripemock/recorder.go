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
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
)

// Recorder is an http.RoundTripper for the Stripe client that keeps each
// request it sends, then sends it on with http.DefaultTransport. Edit, when
// set, changes the form body first, to send what the client never would.
type Recorder struct {
	Edit func(url.Values)

	mu       sync.Mutex
	requests []Request
}

// Request is one recorded request: its form body is decoded.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Form   url.Values
}

// RoundTrip records req and sends it.
func (rec *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, fmt.Errorf("reading the request body: %w", err)
		}
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("decoding the request body: %w", err)
	}
	if rec.Edit != nil {
		rec.Edit(form)
		body = []byte(form.Encode())
	}
	rec.mu.Lock()
	rec.requests = append(rec.requests, Request{Method: req.Method, Path: req.URL.Path, Header: req.Header.Clone(), Form: form})
	rec.mu.Unlock()
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	return http.DefaultTransport.RoundTrip(out)
}

// Requests returns the requests recorded so far.
func (rec *Recorder) Requests() []Request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]Request(nil), rec.requests...)
}
