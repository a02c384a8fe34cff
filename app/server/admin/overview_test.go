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

package admin

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestOverviewStatesTheAuditCheck renders each state of the audit chain's
// check as the overview shows it, including a check that could not run,
// which the page says rather than failing.
func TestOverviewStatesTheAuditCheck(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	checked := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	for want, check := range map[string]*AuditCheck{
		"could not be checked just now": {Witness: auditUnchecked},
		"4 entries verified, every hash and link, at 2026-12-04 09:00:00Z; agrees with the operator's witness up to seq 3, witnessed 2026-11-30 12:00:00Z": {
			Verified: 4, Witness: "agrees", WitnessSeq: 3, WitnessedAt: at, CheckedAt: checked},
		`broken at seq 2</span> (1 entries verified before it)`: {Verified: 1, BrokenSeq: 2, Witness: "not_witnessed", CheckedAt: checked},
		"; not witnessed yet":        {Verified: 1, Witness: "not_witnessed", CheckedAt: checked},
		"; no witness is configured": {Verified: 1, Witness: "not_configured", CheckedAt: checked},
	} {
		var buf bytes.Buffer
		data := overviewData{Trust: overviewTrust{Location: "eu", GraceDays: 30, Audit: check}}
		require.NoError(t, parsePages()["overview"].ExecuteTemplate(&buf, "layout", page{Title: "x", Data: data}))
		require.Contains(t, buf.String(), want)
	}
}
