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

// Package config holds the configuration of `rekomi app`: its fields, their
// defaults and their validation. It reads nothing itself; main fills it from
// flags and the environment.
package config

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Config is the whole configuration of one Region's app.
type Config struct {
	// ListenAddress is where the HTTP server listens, such as ":8080".
	ListenAddress string
	// MetricsAddress is where /metrics is served, such as ":9090": a port
	// of its own, which the app's Service and any ingress leave out, so
	// that what the app counts (refusal reasons among it) is not public.
	MetricsAddress string
	// DatabaseURL connects as the Region's runtime role.
	DatabaseURL string
	// KeyRingFile is the key ring mounted from the Region's Secret.
	KeyRingFile string
	// TrustKeyFile is the Ed25519 private key (PEM, PKCS #8) that signs the
	// Region's /trust.json, mounted from the Region's Secret.
	TrustKeyFile string
	// SecurityContact is where /trust tells people to report a
	// vulnerability: a mailto: or https URL; empty names none, which the
	// page then says.
	SecurityContact string
	// RetentionGracePeriod is the Region's time between an organization's
	// cancellation and the purge of its tenant rows, as /trust states it.
	RetentionGracePeriod time.Duration
	// Region is the Region's name; Location its jurisdiction, us or eu.
	Region   string
	Location string
	// PublicBaseURL is where browsers and providers reach the app.
	PublicBaseURL string
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes int64
	// ReadTimeout, WriteTimeout and IdleTimeout bound a connection.
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// ShutdownTimeout bounds the drain of in-flight requests on shutdown.
	ShutdownTimeout time.Duration
	// RateLimit is how many requests per second one API key may make on
	// average; RateBurst how many it may make at once.
	RateLimit float64
	RateBurst int
	// TrustedProxies are the networks whose X-Forwarded-For is believed for
	// a client's IP, and whose X-Forwarded-Proto for whether the client used
	// HTTPS; empty trusts none.
	TrustedProxies []netip.Prefix
	// LinkCacheTTL is how long a replica keeps a referral code's link,
	// campaign and affiliate in memory. A replica drops the code at once when
	// it changes the link or suspends its affiliate itself; the others, and
	// a cancelled organization, see the change within this time.
	LinkCacheTTL time.Duration
	// LinkCacheSize bounds the codes kept in memory, and separately the
	// unknown codes remembered as such.
	LinkCacheSize int
	// StripeAPIURL replaces Stripe's API URL, for stripe-mock; empty is
	// Stripe's. The app holds no Stripe key of its own: each organization's
	// key is sealed in its row.
	StripeAPIURL string
	// IsolationCheckInterval is how often the app verifies, as its own
	// database session, that tenant isolation holds; while it does not,
	// tenant routes answer 503 and /readyz fails.
	IsolationCheckInterval time.Duration
	// AuditWitnessDir holds the operator's signed witness of each
	// organization's audit chain, one file named by the organization's
	// UUID, read when GET /v1/audit-log/verify asks; empty leaves the
	// chain unwitnessed. AuditWitnessPublicKey is the base64 Ed25519 key
	// the witnesses must be signed with; both are set or neither.
	AuditWitnessDir       string
	AuditWitnessPublicKey string
}

// AuditWitnessKey decodes AuditWitnessPublicKey: nil when it is empty.
func (c Config) AuditWitnessKey() (ed25519.PublicKey, error) {
	if c.AuditWitnessPublicKey == "" {
		return nil, nil
	}
	key, err := base64.StdEncoding.DecodeString(c.AuditWitnessPublicKey)
	if err != nil || len(key) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("audit witness public key must be %d bytes in base64", ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(key), nil
}

// validContact accepts "" or a mailto: URL with an address or an https URL.
func validContact(contact string) error {
	if contact == "" {
		return nil
	}
	u, err := url.Parse(contact)
	switch {
	case err != nil:
	case u.Scheme == "mailto" && strings.Contains(u.Opaque, "@"):
		return nil
	case u.Scheme == "https" && u.Host != "":
		return nil
	}
	return fmt.Errorf("security contact must be a mailto: address or an https URL, got %q", contact)
}

// MaxIsolationCheckInterval bounds IsolationCheckInterval: drift is fenced
// within this time.
const MaxIsolationCheckInterval = 10 * time.Second

// ParsePrefixes reads a comma-separated list of CIDR networks or single
// addresses, such as "10.0.0.0/8, 192.0.2.7".
func ParsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if p, err := netip.ParsePrefix(item); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is neither a network nor an address", item)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Defaults returns a Config with every optional field set.
func Defaults() Config {
	return Config{
		ListenAddress:   ":8080",
		MetricsAddress:  ":9090",
		MaxBodyBytes:    1 << 20,
		ReadTimeout:     10 * time.Second,
		WriteTimeout:    30 * time.Second,
		IdleTimeout:     2 * time.Minute,
		ShutdownTimeout: 25 * time.Second,
		RateLimit:       25,
		RateBurst:       50,
		LinkCacheTTL:    30 * time.Second,
		LinkCacheSize:   10_000,

		IsolationCheckInterval: 5 * time.Second,
		RetentionGracePeriod:   720 * time.Hour,
	}
}

// Validate reports every invalid field at once.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.ListenAddress); err != nil {
		errs = append(errs, fmt.Errorf("listen address %q: %w", c.ListenAddress, err))
	}
	if _, port, err := net.SplitHostPort(c.MetricsAddress); err != nil {
		errs = append(errs, fmt.Errorf("metrics address %q: %w", c.MetricsAddress, err))
	} else if c.MetricsAddress == c.ListenAddress && port != "0" { // port 0: any free one, each its own
		errs = append(errs, fmt.Errorf("metrics address %q is the listen address: metrics need a port of their own", c.MetricsAddress))
	}
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("database URL is required (--database-url or DATABASE_URL)"))
	}
	if c.KeyRingFile == "" {
		errs = append(errs, errors.New("key ring file is required (--keyring-file or REKOMI_KEYRING_FILE)"))
	}
	if c.TrustKeyFile == "" {
		errs = append(errs, errors.New("trust key file is required (--trust-key-file or REKOMI_TRUST_KEY_FILE)"))
	}
	if err := validContact(c.SecurityContact); err != nil {
		errs = append(errs, err)
	}
	if c.RetentionGracePeriod < time.Hour {
		errs = append(errs, fmt.Errorf("retention grace period must be at least 1h, got %s", c.RetentionGracePeriod))
	}
	if c.Region == "" {
		errs = append(errs, errors.New("region is required (--region or REKOMI_REGION)"))
	}
	if c.Location != "us" && c.Location != "eu" {
		errs = append(errs, fmt.Errorf("location must be us or eu, got %q", c.Location))
	}
	if u, err := url.Parse(c.PublicBaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("public base URL must be an absolute http(s) URL, got %q", c.PublicBaseURL))
	}
	if c.MaxBodyBytes <= 0 {
		errs = append(errs, fmt.Errorf("max body size must be positive, got %d", c.MaxBodyBytes))
	}
	if c.RateLimit <= 0 || c.RateBurst < 1 {
		errs = append(errs, fmt.Errorf("rate limit must be positive with a burst of at least 1, got %g/s burst %d", c.RateLimit, c.RateBurst))
	}
	if c.StripeAPIURL != "" {
		if u, err := url.Parse(c.StripeAPIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("Stripe API URL must be an absolute http(s) URL, got %q", c.StripeAPIURL))
		}
	}
	if c.LinkCacheTTL <= 0 || c.LinkCacheTTL > 10*time.Minute {
		errs = append(errs, fmt.Errorf("link cache TTL must be positive and at most 10m, got %s", c.LinkCacheTTL))
	}
	if c.IsolationCheckInterval <= 0 || c.IsolationCheckInterval > MaxIsolationCheckInterval {
		errs = append(errs, fmt.Errorf("isolation check interval must be positive and at most %s, got %s",
			MaxIsolationCheckInterval, c.IsolationCheckInterval))
	}
	if (c.AuditWitnessDir == "") != (c.AuditWitnessPublicKey == "") {
		errs = append(errs, errors.New("an audit witness directory and its public key go together "+
			"(--audit-witness-dir and --audit-witness-public-key, or REKOMI_AUDIT_WITNESS_DIR and REKOMI_AUDIT_WITNESS_PUBLIC_KEY)"))
	}
	if _, err := c.AuditWitnessKey(); err != nil {
		errs = append(errs, err)
	}
	if c.LinkCacheSize < 1 || c.LinkCacheSize > 10_000_000 {
		errs = append(errs, fmt.Errorf("link cache size must be 1 to 10000000, got %d", c.LinkCacheSize))
	}
	for name, d := range map[string]time.Duration{"read timeout": c.ReadTimeout, "write timeout": c.WriteTimeout,
		"idle timeout": c.IdleTimeout, "shutdown timeout": c.ShutdownTimeout} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %s", name, d))
		}
	}
	return errors.Join(errs...)
}
