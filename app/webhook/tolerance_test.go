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

package webhook_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/rekomi/rekomi/app/webhook"
)

// TestToleranceBoundsAgree ties the tolerance bounds written in three
// places to the constants /trust publishes: the WebhookEndpoint CRD's
// default and validation, and the webhook_endpoints column's default and
// CHECK. A change to one alone fails here.
func TestToleranceBoundsAgree(t *testing.T) {
	t.Parallel()
	secs := func(d time.Duration) int { return int(d / time.Second) }
	crd, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "rekomi.io_webhookendpoints.yaml"))
	require.NoError(t, err)
	require.Contains(t, string(crd), fmt.Sprintf("default: %ds", secs(webhook.DefaultTolerance)))
	require.Contains(t, string(crd), fmt.Sprintf("rule: duration(self) >= duration('%ds') && duration(self) <= duration('%ds')",
		secs(webhook.MinTolerance), secs(webhook.MaxTolerance)))

	migrations, err := filepath.Glob(filepath.Join("..", "..", "migrations", "*.up.sql"))
	require.NoError(t, err)
	require.NotEmpty(t, migrations)
	var defining []string
	for _, m := range migrations {
		sql, err := os.ReadFile(m)
		require.NoError(t, err)
		if strings.Contains(string(sql), "tolerance_seconds") {
			defining = append(defining, filepath.Base(m))
			require.Contains(t, string(sql), fmt.Sprintf("tolerance_seconds integer     NOT NULL DEFAULT %d CHECK (tolerance_seconds BETWEEN %d AND %d)",
				secs(webhook.DefaultTolerance), secs(webhook.MinTolerance), secs(webhook.MaxTolerance)), m)
		}
	}
	require.Equal(t, []string{"0001_tenancy.up.sql"}, defining, "a later migration changes the column: check it against the constants")
}

// TestProvidersAgree ties the providers a delivery can be verified for to
// the WebhookEndpoint CRD's enum and to the CHECK constraints of
// webhook_endpoints and billing_events, as the newest migration writing
// them leaves them: a provider added in one place alone fails here.
func TestProvidersAgree(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "rekomi.io_webhookendpoints.yaml"))
	require.NoError(t, err)
	var crd struct {
		Spec struct {
			Versions []struct {
				Schema struct {
					OpenAPIV3Schema struct {
						Properties struct {
							Spec struct {
								Properties struct {
									Provider struct {
										Enum []string `json:"enum"`
									} `json:"provider"`
								} `json:"properties"`
							} `json:"spec"`
						} `json:"properties"`
					} `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &crd))
	require.Len(t, crd.Spec.Versions, 1)
	require.Equal(t, webhook.Providers(), crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties.Spec.Properties.Provider.Enum)

	quoted := make([]string, 0, len(webhook.Providers()))
	for _, p := range webhook.Providers() {
		quoted = append(quoted, "'"+p+"'")
	}
	want := "CHECK (provider IN (" + strings.Join(quoted, ", ") + "))"
	migrations, err := filepath.Glob(filepath.Join("..", "..", "migrations", "*.up.sql"))
	require.NoError(t, err)
	newest := map[string]string{} // table -> the newest migration writing its CHECK
	texts := map[string]string{}
	for _, m := range migrations {
		sql, err := os.ReadFile(m)
		require.NoError(t, err)
		for _, table := range []string{"webhook_endpoints", "billing_events"} {
			if strings.Contains(string(sql), table+"_provider_check") || strings.Contains(string(sql), "CREATE TABLE "+table+" ") {
				newest[table], texts[table] = filepath.Base(m), string(sql)
			}
		}
	}
	for _, table := range []string{"webhook_endpoints", "billing_events"} {
		require.Truef(t, strings.Contains(texts[table], want), "%s, the newest migration writing the provider CHECK of %s, does not hold %s",
			newest[table], table, want)
	}
}
