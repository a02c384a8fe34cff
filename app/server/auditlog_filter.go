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
	"net/http"

	"github.com/rekomi/rekomi/app/server/auditquery"
)

// parseAuditQuery reads the filters, and the page when paged is true; any
// other parameter is refused. On failure it has written a 400 problem with
// one error per bad parameter and returns false.
func parseAuditQuery(w http.ResponseWriter, r *http.Request, paged bool) (auditquery.Query, bool) {
	q, errs := auditquery.Parse(r.URL.Query(), paged, defaultPageLimit)
	if len(errs) > 0 {
		invalidQuery(w, r, "Invalid audit log query", errs)
		return auditquery.Query{}, false
	}
	return q, true
}
