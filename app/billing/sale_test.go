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

package billing

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMinorUnits reads decimal amounts into each currency's minor units,
// by the currency's own number of decimals (ISO 4217).
func TestMinorUnits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		amount, currency string
		want             int64
	}{
		{"49.00", "EUR", 4900}, {"49", "eur", 4900}, {"0.5", "USD", 50}, {"1200", "JPY", 1200},
		{"1.234", "BHD", 1234}, {"1.2", "KWD", 1200}, {"0", "GBP", 0}, {"999999999999999.99", "USD", 99999999999999999},
	} {
		got, code, err := minorUnits(tc.amount, tc.currency)
		require.NoError(t, err, "%s %s", tc.amount, tc.currency)
		require.Equal(t, tc.want, got, "%s %s", tc.amount, tc.currency)
		require.Len(t, code, 3)
	}
	for _, tc := range [][2]string{
		{"49.001", "EUR"}, {"12.5", "JPY"}, {"-1.00", "EUR"}, {"1e3", "EUR"}, {"", "EUR"}, {".5", "EUR"},
		{"1,00", "EUR"}, {"1.00", "XYZ"}, {"1.00", ""}, {"+1", "EUR"}, {"1234567890123456", "EUR"}, {"12. 5", "EUR"},
	} {
		_, _, err := minorUnits(tc[0], tc[1])
		require.Error(t, err, "%q %q", tc[0], tc[1])
		require.True(t, isUnusable(err), "%q %q: a malformed amount can never apply", tc[0], tc[1])
	}
}
