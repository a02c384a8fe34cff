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

package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"

	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/keyring"
	"github.com/rekomi/rekomi/app/server"
	"github.com/rekomi/rekomi/app/trust"
)

// runApp checks that the app may serve, then serves until ctx is done, on
// ln and its metrics on metricsLn, or on cfg.ListenAddress and
// cfg.MetricsAddress when they are nil. It refuses to start when its
// database role could bypass row-level security, when a tenant table does
// not enforce it, when the schema is older than this binary, or when the
// key ring or the trust key is unusable.
func runApp(ctx context.Context, cfg config.Config, ln, metricsLn net.Listener, logOut io.Writer) error {
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	log := slog.New(slog.NewJSONHandler(logOut, nil)).With("region", cfg.Region)
	ring, err := loadKeyRing(cfg.KeyRingFile)
	if err != nil {
		return err
	}
	trustKey, err := loadTrustKey(cfg.TrustKeyFile)
	if err != nil {
		return err
	}
	database, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer database.Close()
	report, err := database.CheckIsolation(ctx)
	if err != nil {
		return err
	}
	log.Info("Tenant isolation verified", "summary", report.Summary())
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.ListenAddress); err != nil {
			return fmt.Errorf("listening on %s: %w", cfg.ListenAddress, err)
		}
	}
	if metricsLn == nil {
		if metricsLn, err = net.Listen("tcp", cfg.MetricsAddress); err != nil {
			ln.Close()
			return fmt.Errorf("listening for metrics on %s: %w", cfg.MetricsAddress, err)
		}
	}
	srv := server.New(cfg, database, log, server.WithKeyRing(ring), server.WithTrust(trustKey, version))
	return srv.Serve(ctx, ln, metricsLn)
}

// loadKeyRing reads and parses the key ring the app decrypts signing
// secrets with and signs admin sessions under, so a broken mount stops the
// app at start, not at the first webhook.
func loadKeyRing(path string) (*keyring.KeyRing, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the key ring: %w", err)
	}
	ring, err := keyring.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("key ring %s: %w", path, err)
	}
	return ring, nil
}

// loadTrustKey reads the key that signs the Region's /trust.json, so a
// broken mount stops the app at start.
func loadTrustKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the trust key: %w", err)
	}
	key, err := trust.ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("trust key %s: %w", path, err)
	}
	return key, nil
}
