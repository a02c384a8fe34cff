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

// Package stripemock runs a real stripe-mock server (github.com/stripe/stripe-mock)
// for a test: Stripe's API as its OpenAPI description defines it, with
// request validation and canned answers. It finds the binary through
// REKOMI_STRIPE_MOCK or builds it once with hack/stripe-mock.sh. It is for
// tests only and keeps no state between them.
package stripemock

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// EnvBinary names a stripe-mock binary to use instead of building one.
const EnvBinary = "REKOMI_STRIPE_MOCK"

const fixHint = "stripe-mock is needed for the Stripe Connect tests: run hack/stripe-mock.sh " +
	"(it builds github.com/stripe/stripe-mock with the Go toolchain through the module proxy into " +
	"~/.cache/rekomi/stripe-mock/), or set " + EnvBinary + " to a stripe-mock binary"

// Start runs stripe-mock on a free local port until the test ends and
// returns its base URL, such as http://127.0.0.1:41234. It fails the test,
// never skips it, when stripe-mock cannot be built or started.
func Start(tb testing.TB) string {
	tb.Helper()
	bin, err := binary()
	if err != nil {
		tb.Fatalf("%v; %s", err, fixHint)
	}
	cmd := exec.Command(bin, "-http-addr", "127.0.0.1:0", "-https-addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatalf("piping stripe-mock's output: %v", err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting %s: %v; %s", bin, err, fixHint)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr, err := waitListening(stdout, 60*time.Second)
	if err != nil {
		tb.Fatalf("stripe-mock did not start: %v", err)
	}
	return "http://" + addr
}

// binary is $REKOMI_STRIPE_MOCK, or what hack/stripe-mock.sh prints.
func binary() (string, error) {
	if bin := os.Getenv(EnvBinary); bin != "" {
		return bin, nil
	}
	script, err := findScript()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var stderr strings.Builder
	cmd := exec.CommandContext(ctx, script)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s failed: %w: %s", script, err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// findScript looks for hack/stripe-mock.sh in the working directory and
// its parents, up to the module root.
func findScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding hack/stripe-mock.sh: %w", err)
	}
	for {
		script := filepath.Join(dir, "hack", "stripe-mock.sh")
		if _, err := os.Stat(script); err == nil {
			return script, nil
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return "", errors.New("no hack/stripe-mock.sh at the module root " + dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no hack/stripe-mock.sh above the working directory")
		}
		dir = parent
	}
}

// waitListening reads stripe-mock's output until it says where it listens
// for HTTP, then keeps draining it so the process never blocks on a full
// pipe.
func waitListening(out io.Reader, timeout time.Duration) (string, error) {
	const prefix = "Listening for HTTP at address: "
	found := make(chan string, 1)
	done := make(chan struct{})
	var seen strings.Builder
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if addr, ok := strings.CutPrefix(line, prefix); ok {
				found <- strings.TrimSpace(addr)
				continue
			}
			if seen.Len() < 4096 {
				seen.WriteString(line + "\n")
			}
		}
	}()
	select {
	case addr := <-found:
		return addr, nil
	case <-done:
		return "", fmt.Errorf("it exited: %s", strings.TrimSpace(seen.String()))
	case <-time.After(timeout):
		return "", fmt.Errorf("no HTTP address after %s", timeout)
	}
}
