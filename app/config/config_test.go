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

package config_test

import (
	"encoding/base64"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/config"
)

func valid() config.Config {
	c := config.Defaults()
	c.DatabaseURL = "postgres://rekomi_app@db/rekomi"
	c.KeyRingFile = "/etc/rekomi/keyring/keyring.json"
	c.TrustKeyFile = "/etc/rekomi/trust-key/private-key.pem"
	c.Region, c.Location = "eu", "eu"
	c.PublicBaseURL = "https://eu.affiliates.example.com"
	return c
}

func TestValidate(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		mutate  func(*config.Config)
		wantErr string
	}{
		"accepts the defaults with the required fields": {mutate: func(*config.Config) {}},
		"refuses a listen address without a port":       {mutate: func(c *config.Config) { c.ListenAddress = "localhost" }, wantErr: "listen address"},
		"refuses a metrics address without a port":      {mutate: func(c *config.Config) { c.MetricsAddress = "localhost" }, wantErr: "metrics address"},
		"refuses metrics on the public port":            {mutate: func(c *config.Config) { c.MetricsAddress = c.ListenAddress }, wantErr: "port of their own"},
		"accepts any free port for both":                {mutate: func(c *config.Config) { c.ListenAddress, c.MetricsAddress = "127.0.0.1:0", "127.0.0.1:0" }},
		"refuses a missing database URL":                {mutate: func(c *config.Config) { c.DatabaseURL = "" }, wantErr: "DATABASE_URL"},
		"refuses a missing key ring":                    {mutate: func(c *config.Config) { c.KeyRingFile = "" }, wantErr: "REKOMI_KEYRING_FILE"},
		"refuses a missing trust key":                   {mutate: func(c *config.Config) { c.TrustKeyFile = "" }, wantErr: "REKOMI_TRUST_KEY_FILE"},
		"accepts a mailto security contact":             {mutate: func(c *config.Config) { c.SecurityContact = "mailto:security@example.com" }},
		"accepts an https security contact":             {mutate: func(c *config.Config) { c.SecurityContact = "https://example.com/security" }},
		"refuses an http security contact":              {mutate: func(c *config.Config) { c.SecurityContact = "http://example.com/security" }, wantErr: "security contact"},
		"refuses a mailto without an address":           {mutate: func(c *config.Config) { c.SecurityContact = "mailto:security" }, wantErr: "security contact"},
		"refuses a mailto with a trailing newline":      {mutate: func(c *config.Config) { c.SecurityContact = "mailto:security@example.com\n" }, wantErr: "security contact"},
		"refuses a retention under an hour":             {mutate: func(c *config.Config) { c.RetentionGracePeriod = time.Minute }, wantErr: "retention grace period"},
		"refuses a missing region":                      {mutate: func(c *config.Config) { c.Region = "" }, wantErr: "region is required"},
		"refuses an unknown location":                   {mutate: func(c *config.Config) { c.Location = "apac" }, wantErr: "location must be us or eu"},
		"refuses a relative base URL":                   {mutate: func(c *config.Config) { c.PublicBaseURL = "/affiliates" }, wantErr: "public base URL"},
		"refuses a zero body limit":                     {mutate: func(c *config.Config) { c.MaxBodyBytes = 0 }, wantErr: "max body size"},
		"refuses a zero shutdown timeout":               {mutate: func(c *config.Config) { c.ShutdownTimeout = 0 }, wantErr: "shutdown timeout must be positive"},
		"refuses a zero rate limit":                     {mutate: func(c *config.Config) { c.RateLimit = 0 }, wantErr: "rate limit must be positive"},
		"refuses a zero link cache TTL":                 {mutate: func(c *config.Config) { c.LinkCacheTTL = 0 }, wantErr: "link cache TTL"},
		"refuses a link cache TTL over ten minutes":     {mutate: func(c *config.Config) { c.LinkCacheTTL = 11 * time.Minute }, wantErr: "link cache TTL"},
		"refuses a zero isolation check interval":       {mutate: func(c *config.Config) { c.IsolationCheckInterval = 0 }, wantErr: "isolation check interval"},
		"refuses an isolation check interval over 10s":  {mutate: func(c *config.Config) { c.IsolationCheckInterval = 11 * time.Second }, wantErr: "isolation check interval must be positive and at most 10s"},
		"refuses an empty link cache":                   {mutate: func(c *config.Config) { c.LinkCacheSize = 0 }, wantErr: "link cache size"},
		"refuses a negative read timeout":               {mutate: func(c *config.Config) { c.ReadTimeout = -time.Second }, wantErr: "read timeout must be positive"},
		"accepts stripe-mock's URL": {mutate: func(c *config.Config) {
			c.StripeAPIURL = "http://localhost:12111"
		}},
		"refuses a relative Stripe API URL": {mutate: func(c *config.Config) {
			c.StripeAPIURL = "localhost:12111"
		}, wantErr: "Stripe API URL must be an absolute"},
		"accepts an audit witness directory with its key": {mutate: func(c *config.Config) {
			c.AuditWitnessDir, c.AuditWitnessPublicKey = "/etc/rekomi/audit-witness", base64.StdEncoding.EncodeToString(make([]byte, 32))
		}},
		"refuses an audit witness directory without a key": {mutate: func(c *config.Config) { c.AuditWitnessDir = "/etc/rekomi/audit-witness" },
			wantErr: "REKOMI_AUDIT_WITNESS_PUBLIC_KEY"},
		"refuses an audit witness key without a directory": {mutate: func(c *config.Config) {
			c.AuditWitnessPublicKey = base64.StdEncoding.EncodeToString(make([]byte, 32))
		}, wantErr: "REKOMI_AUDIT_WITNESS_DIR"},
		"refuses an audit witness key of the wrong length": {mutate: func(c *config.Config) {
			c.AuditWitnessDir, c.AuditWitnessPublicKey = "/etc/rekomi/audit-witness", base64.StdEncoding.EncodeToString(make([]byte, 31))
		}, wantErr: "audit witness public key must be 32 bytes"},
		"refuses an audit witness key that is not base64": {mutate: func(c *config.Config) {
			c.AuditWitnessDir, c.AuditWitnessPublicKey = "/etc/rekomi/audit-witness", "not base64!"
		}, wantErr: "audit witness public key must be 32 bytes"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := valid()
			tc.mutate(&c)
			err := c.Validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}

	t.Run("reports every invalid field at once", func(t *testing.T) {
		t.Parallel()
		err := config.Config{}.Validate()
		require.ErrorContains(t, err, "DATABASE_URL")
		require.ErrorContains(t, err, "location must be us or eu")
		require.ErrorContains(t, err, "shutdown timeout")
	})
}

func TestParsePrefixes(t *testing.T) {
	t.Parallel()
	got, err := config.ParsePrefixes(" 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32,, 10.1.2.3/8")
	require.NoError(t, err)
	require.Equal(t, []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.0.2.7/32"),
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("10.0.0.0/8"),
	}, got)
	empty, err := config.ParsePrefixes("")
	require.NoError(t, err)
	require.Empty(t, empty)
	_, err = config.ParsePrefixes("10.0.0.0/8, proxy.internal")
	require.ErrorContains(t, err, `"proxy.internal" is neither a network nor an address`)
}
