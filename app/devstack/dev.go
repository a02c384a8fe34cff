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

// Package devstack runs the whole platform on one machine for `rekomi dev`: a
// throwaway PostgreSQL server per sample Region, a local Kubernetes control
// plane (the kube-apiserver and etcd the tests use), the operator and each
// Region's app in-process, and the objects of config/samples. No kubelet runs
// here: the app Deployments exist for inspection and are marked available by
// hand, while the apps themselves serve on localhost ports. A campaign, an
// approved affiliate and a referral link are created through the merchant
// API so that the printed commands produce a click and a commission.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rekomi/rekomi/app/config"
)

// Options configure a dev stack.
type Options struct {
	// Dir holds the stack's state: kubeconfig, key rings, logs, summary.
	Dir string
	// RepoDir is the root of the source tree, with config/ and hack/.
	RepoDir string
	// Assets is the directory of kube-apiserver and etcd; empty runs
	// hack/envtest-assets.sh, which builds them once and caches them.
	Assets string
	// Executable is the rekomi binary, through which etcd and kube-apiserver
	// are started so that they end with this process however it ends (see
	// RunGuarded); empty starts them directly, and only Stop ends them.
	Executable string
	// OutsideDir holds PostgreSQL's data when the postgres user cannot reach
	// Dir (see outsidePostgresDir); empty is /var/tmp.
	OutsideDir string
	// Demo adds a click on the starter link and the signed Stripe events
	// of a checkout and a paid invoice, which earn a commission.
	Demo bool
	// Fresh discards the PostgreSQL and etcd data kept in Dir before
	// starting; otherwise a start reuses them.
	Fresh bool
	// Out receives the progress lines and the summary.
	Out io.Writer
	// RunManager runs the operator against cfg until ctx is done, logging to
	// logOut.
	RunManager func(ctx context.Context, cfg *rest.Config, logOut io.Writer) error
	// RunApp runs one Region's app on ln, bound to cfg.ListenAddress, with
	// its metrics on metricsLn, bound to cfg.MetricsAddress, until ctx is
	// done, logging to logOut.
	RunApp func(ctx context.Context, cfg config.Config, ln, metricsLn net.Listener, logOut io.Writer) error
	// OnReady, when set, is called once everything is ready; Run then stops
	// the stack when it returns, instead of waiting for ctx.
	OnReady func(ctx context.Context, s *Stack) error
}

// Stack is a running dev platform, as OnReady sees it.
type Stack struct {
	// Kubeconfig is the path of a kubeconfig for the control plane.
	Kubeconfig string
	// Client talks to the control plane.
	Client client.Client
	// Apps are the Regions' apps, Orgs the organizations and Webhooks the
	// webhook endpoints, in the order of their names.
	Apps     []App
	Orgs     []Org
	Webhooks []Webhook
	// Starter is what the printed first-click commands use.
	Starter *Starter

	config *rest.Config
	wg     sync.WaitGroup
	stops  []func()
	cancel context.CancelCauseFunc
}

// App is one Region's app served on localhost.
type App struct {
	Region string `json:"region"`
	URL    string `json:"url"`
	// MetricsURL serves /metrics, apart from the public URL.
	MetricsURL string `json:"metrics_url"`
	// TrustURL is the Region's /trust page; /trust.json verifies with
	// TrustPublicKey.
	TrustURL       string `json:"trust_url"`
	TrustPublicKey string `json:"trust_public_key"`
}

// App is the app of region, or the zero App when it serves none.
func (s *Stack) App(region string) App {
	for _, a := range s.Apps {
		if a.Region == region {
			return a
		}
	}
	return App{}
}

// Org is an organization with its admin API key.
type Org struct {
	Name   string `json:"name"`
	Region string `json:"region"`
	APIKey string `json:"api_key"`
}

// Webhook is a webhook endpoint with its URL and signing secret.
type Webhook struct {
	Name         string `json:"name"`
	Organization string `json:"organization"`
	Provider     string `json:"provider"`
	URL          string `json:"url"`
	Secret       string `json:"signing_secret"`
	// SignedDelivery is a shell command posting a sale to the endpoint,
	// signed when it runs (see SignedDelivery); empty for Stripe and
	// Clerk, and for endpoints of an organization without the starter link.
	SignedDelivery string `json:"signed_delivery,omitempty"`
}

// Run starts the stack, prints how to use it, and stops it cleanly when ctx
// is done (or OnReady returns), or when a part of it fails.
func Run(ctx context.Context, opts Options) (err error) {
	began := time.Now()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	unlock, err := lockDir(opts.Dir)
	if err != nil {
		return err
	}
	defer unlock()
	s := &Stack{cancel: cancel}
	defer func() { err = errors.Join(err, s.stop(opts.Out)) }()
	if err := s.start(ctx, opts); err != nil {
		return err
	}
	if err := writeSummary(opts, s, time.Since(began)); err != nil {
		return err
	}
	if opts.OnReady != nil {
		return opts.OnReady(ctx, s)
	}
	<-ctx.Done()
	if cause := context.Cause(ctx); !errors.Is(cause, context.Canceled) {
		return cause
	}
	return nil
}

// start brings every part up in order, printing one line per step.
func (s *Stack) start(ctx context.Context, opts Options) error {
	if err := prepareDir(opts); err != nil {
		return err
	}
	samples, err := readSamples(filepath.Join(opts.RepoDir, "config", "samples"))
	if err != nil {
		return err
	}
	p := &progress{out: opts.Out}
	var pg map[string]string
	var regions []regionSample
	steps := []step{
		{"PostgreSQL (one server per Region)", func() (err error) { pg, err = s.startPostgres(ctx, opts, samples.regions()); return err }},
		{"control plane (kube-apiserver, etcd, CRDs)", func() error { return s.startControlPlane(ctx, opts) }},
		{"operator", func() error { return s.startManager(ctx, opts) }},
		{"config/samples applied", func() (err error) { regions, err = s.applySamples(ctx, samples, pg); return err }},
		{"Regions ready", func() error { return s.waitRegions(ctx, regions) }},
		{"apps serving", func() error { return s.startApps(ctx, opts, regions) }},
		{"Organizations ready", func() error { return s.waitOrganizations(ctx) }},
		{"WebhookEndpoints ready", func() error { return s.waitWebhooks(ctx) }},
		{"starter campaign, affiliate and link", func() error { return s.seedStarter(ctx) }},
	}
	if opts.Demo {
		steps = append(steps, step{"demo click, checkout and paid invoice", func() error { return s.seedDemo(ctx) }})
	}
	for _, st := range steps {
		if err := p.step(st.name, st.run); err != nil {
			if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
				return fmt.Errorf("%s: %w", st.name, cause)
			}
			return fmt.Errorf("%s: %w", st.name, err)
		}
	}
	return nil
}

// prepareDir creates the state directory, emptied of data when fresh. It
// is world-searchable so that PostgreSQL, which runs as the postgres user
// when the caller is root, reaches its data; the files in it are private.
func prepareDir(opts Options) error {
	if opts.Fresh {
		outside, err := outsidePostgresDir(opts)
		if err != nil {
			return err
		}
		for _, dir := range []string{filepath.Join(opts.Dir, "postgres"), filepath.Join(opts.Dir, "etcd"), outside} {
			if err := os.RemoveAll(dir); err != nil {
				return fmt.Errorf("discarding the data in %s: %w", dir, err)
			}
		}
	}
	for _, sub := range []string{"logs", "etcd"} {
		if err := os.MkdirAll(filepath.Join(opts.Dir, sub), 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", opts.Dir, err)
		}
	}
	if err := os.Chmod(opts.Dir, 0o755); err != nil {
		return fmt.Errorf("opening %s to the PostgreSQL user: %w", opts.Dir, err)
	}
	return nil
}

// step is one step of the start, printed with its duration.
type step struct {
	name string
	run  func() error
}

// goRun runs part in the background until ctx is done; a part that ends
// with an error before then stops the whole stack.
func (s *Stack) goRun(ctx context.Context, name string, part func(ctx context.Context) error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := part(ctx)
		if ctx.Err() == nil {
			if err == nil {
				err = errors.New("stopped unexpectedly")
			}
			s.cancel(fmt.Errorf("%s: %w", name, err))
		}
	}()
}

// stop ends the in-process parts first, then the processes, newest first.
func (s *Stack) stop(out io.Writer) error {
	s.cancel(context.Canceled)
	s.wg.Wait()
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
	_, err := fmt.Fprintln(out, "stopped")
	return err
}

// progress prints "ok <step> <duration>" lines.
type progress struct{ out io.Writer }

func (p *progress) step(name string, run func() error) error {
	began := time.Now()
	if err := run(); err != nil {
		fmt.Fprintf(p.out, "FAIL %s (%s)\n", name, since(began))
		return err
	}
	fmt.Fprintf(p.out, "ok   %-45s %s\n", name, since(began))
	return nil
}

func since(t time.Time) string {
	return fmt.Sprintf("%.1fs", time.Since(t).Seconds())
}
