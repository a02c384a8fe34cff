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

import "time"

// WithClock makes the link cache and the rate limits read now instead of
// time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// WithChainCheckInterval makes the check of the witnessed audit chains for
// /trust run every d instead of every chainCheckInterval.
func WithChainCheckInterval(d time.Duration) Option {
	return func(s *Server) { s.chains.interval = d }
}
