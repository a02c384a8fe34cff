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

// Command rekomi is the one binary of Rekomi. Its subcommands run the
// operator (manager), the application of one Region (app), the schema
// migrations (migrate), checks of an organization's audit log (audit) and
// the whole platform on one machine (dev). Flags and environment are read
// here and nowhere else.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"

	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/devstack"
	"github.com/rekomi/rekomi/migrations"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "devel"

// command is one subcommand: its flags are registered on fs, and the
// returned function runs it once the flags are parsed.
type command struct {
	name    string
	summary string
	details string
	setup   func(fs *flag.FlagSet, stdout io.Writer) func(ctx context.Context) error
	// args names the positional arguments the command takes after its
	// flags, such as "FILE"; empty, it takes none.
	args string
	// subcommands, when set, make this a group run as `rekomi <name>
	// <subcommand>`; setup is then unused.
	subcommands []command
}

func commands() []command {
	return []command{
		{
			name:    "manager",
			summary: "run the operator (Region, Organization and WebhookEndpoint controllers)",
			details: "Runs the controller-runtime manager against the cluster of the current kubeconfig\n" +
				"(or the in-cluster config), with leader election, metrics and health probes.",
			setup: managerCommand,
		},
		{
			name:    "app",
			summary: "run the HTTP application of one Region",
			details: "Serves one Region's HTTP application as the Region's runtime role: health (/healthz),\n" +
				"readiness (/readyz), the merchant API (/v1/..., described at /openapi.json), click\n" +
				"redirects (/r/{code}), provider webhooks (/webhooks/{provider}/{id}) and the admin pages\n" +
				"(/admin), and Prometheus metrics (/metrics) on a port of their own (--metrics-address).\n" +
				"It refuses to start when its role could bypass row-level security, a tenant table does\n" +
				"not enforce it, the schema is older than this binary, or the key ring is unusable.",
			setup: appCommand,
		},
		{
			name:    "migrate",
			summary: "apply the embedded schema migrations as the owner role",
			details: "Applies the migrations embedded in this binary to the database in --database-url,\n" +
				"connecting as the role in that URL (the Region's owner role).",
			setup: migrateCommand,
		},
		{
			name:    "dev",
			summary: "run the whole platform on this machine, no cluster needed",
			details: "Starts a throwaway PostgreSQL and a local Kubernetes control plane, runs the operator\n" +
				"against them, applies config/samples and serves each Region's app on localhost.\n" +
				"Run it from the root of the source tree (it reads config/ and hack/). It prints the\n" +
				"kubeconfig, app URLs, API keys and webhook secrets, keeps them in --dir, and stops\n" +
				"everything on Ctrl-C.",
			setup: devCommand,
		},
		auditCommand(),
		trustCommand(),
		{
			name:    "version",
			summary: "print the version of this binary",
			details: "Prints the version, the Go version and the platform of this binary.",
			setup:   versionCommand,
		},
	}
}

func main() {
	devstack.RunGuarded() // returns unless this process is rekomi dev's etcd or kube-apiserver
	// A lost terminal (SIGHUP) stops as Ctrl-C does: rekomi dev then stops
	// everything it started.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one subcommand and returns the process exit code: 0 on
// success, 1 when the command failed, 2 on a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	if isHelp(args[0]) || args[0] == "help" {
		usage(stdout)
		return 0
	}
	var cmd *command
	for _, c := range commands() {
		if c.name == args[0] {
			cmd = &c
			break
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "rekomi: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return runCommand(ctx, "rekomi "+cmd.name, *cmd, args[1:], stdout, stderr)
}

// runCommand parses a command's flags from args and runs it; name is how
// it was called, such as "rekomi migrate".
func runCommand(ctx context.Context, name string, cmd command, args []string, stdout, stderr io.Writer) int {
	if len(cmd.subcommands) > 0 {
		return runGroup(ctx, name, cmd, args, stdout, stderr)
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if len(args) > 0 && isHelp(args[0]) {
		fs.SetOutput(stdout)
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s [flags]%s\n\n%s\n", name, strings.TrimRight(" "+cmd.args, " "), cmd.details)
		if hasFlags(fs) {
			fmt.Fprintf(fs.Output(), "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	runCmd := cmd.setup(fs, stdout)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 && cmd.args == "" {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", name, fs.Arg(0))
		return 2
	}
	if err := runCmd(ctx); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		var coded interface{ ExitCode() int }
		if errors.As(err, &coded) {
			return coded.ExitCode()
		}
		return 1
	}
	return 0
}

// runGroup runs the subcommand of a group named by args[0]; without one it
// prints the group's usage and fails as a usage error.
func runGroup(ctx context.Context, name string, cmd command, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		groupUsage(stderr, name, cmd)
		return 2
	}
	if isHelp(args[0]) || args[0] == "help" {
		groupUsage(stdout, name, cmd)
		return 0
	}
	for _, sub := range cmd.subcommands {
		if sub.name == args[0] {
			return runCommand(ctx, name+" "+sub.name, sub, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "%s: unknown command %q\n\n", name, args[0])
	groupUsage(stderr, name, cmd)
	return 2
}

func groupUsage(w io.Writer, name string, cmd command) {
	fmt.Fprintf(w, "Usage: %s <command> [flags]\n\n%s\n\nCommands:\n", name, cmd.details)
	for _, sub := range cmd.subcommands {
		fmt.Fprintf(w, "  %-8s %s\n", sub.name, sub.summary)
	}
	fmt.Fprintf(w, "\nRun '%s <command> -h' for the flags of a command.\n", name)
}

// exitError makes a command exit with a code of its own.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }
func (e exitError) ExitCode() int { return e.code }

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }
func (e usageError) ExitCode() int { return 2 }

// withFooter appends text to a flag set's usage.
func withFooter(usage func(), fs *flag.FlagSet, footer string) func() {
	return func() {
		usage()
		fmt.Fprint(fs.Output(), footer)
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Rekomi: the multi-tenant affiliate platform operator and its application.\n\n")
	fmt.Fprintf(w, "Usage: rekomi <command> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'rekomi <command> -h' for the flags of a command.\n")
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help"
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

func managerCommand(fs *flag.FlagSet, _ io.Writer) func(context.Context) error {
	var opts managerOptions
	fs.StringVar(&opts.metricsAddr, "metrics-bind-address", ":8443", "address of the metrics endpoint (served over HTTPS with authentication); \"0\" disables it")
	fs.BoolVar(&opts.metricsSecure, "metrics-secure", true, "serve metrics over HTTPS with authentication and authorization; false serves plain HTTP (only for a loopback address)")
	fs.StringVar(&opts.probeAddr, "health-probe-bind-address", ":8081", "address of the /healthz and /readyz probes")
	fs.BoolVar(&opts.leaderElect, "leader-elect", false, "elect a leader so that only one manager replica reconciles at a time")
	fs.DurationVar(&opts.resync, "resync-period", 5*time.Minute, "how often every object is reconciled even when nothing changed (drift repair)")
	fs.IntVar(&opts.concurrency, "max-concurrent-reconciles", 8, "how many objects of one kind are reconciled at once")
	fs.StringVar(&opts.appImage, "app-image", "", "image of the Region apps when a Region names none (default: env REKOMI_APP_IMAGE)")
	fs.StringVar(&opts.operatorNamespace, "operator-namespace", envOr("OPERATOR_NAMESPACE", ""),
		"the namespace the manager runs in, the only one besides a Region's own where its admin Secret may live (env OPERATOR_NAMESPACE)")
	return func(ctx context.Context) error {
		if opts.appImage == "" {
			opts.appImage = os.Getenv("REKOMI_APP_IMAGE")
		}
		if opts.appImage == "" {
			return usageError{errors.New("no app image: pass --app-image or set REKOMI_APP_IMAGE")}
		}
		if opts.concurrency < 1 {
			return usageError{fmt.Errorf("--max-concurrent-reconciles must be at least 1, got %d", opts.concurrency)}
		}
		if opts.resync <= 0 {
			return usageError{fmt.Errorf("--resync-period must be positive, got %s", opts.resync)}
		}
		if opts.operatorNamespace == "" {
			return usageError{errors.New("no operator namespace: pass --operator-namespace or set OPERATOR_NAMESPACE (config/manager sets it to the pod's namespace)")}
		}
		return runManager(ctx, opts)
	}
}

func appCommand(fs *flag.FlagSet, _ io.Writer) func(context.Context) error {
	cfg := config.Defaults()
	fs.StringVar(&cfg.ListenAddress, "listen-address", envOr("REKOMI_LISTEN_ADDRESS", cfg.ListenAddress), "address the HTTP server listens on (env REKOMI_LISTEN_ADDRESS)")
	fs.StringVar(&cfg.MetricsAddress, "metrics-address", envOr("REKOMI_METRICS_ADDRESS", cfg.MetricsAddress), "address /metrics is served on, apart from the public port (env REKOMI_METRICS_ADDRESS)")
	fs.StringVar(&cfg.DatabaseURL, "database-url", "", "connection URL of the Region database as the runtime role (default: env DATABASE_URL)")
	fs.StringVar(&cfg.KeyRingFile, "keyring-file", envOr("REKOMI_KEYRING_FILE", ""), "the Region's key ring (env REKOMI_KEYRING_FILE)")
	fs.StringVar(&cfg.TrustKeyFile, "trust-key-file", envOr("REKOMI_TRUST_KEY_FILE", ""), "the Region's Ed25519 key that signs /trust.json, PEM (PKCS #8) (env REKOMI_TRUST_KEY_FILE)")
	fs.StringVar(&cfg.SecurityContact, "security-contact", envOr("REKOMI_SECURITY_CONTACT", ""), "where /trust tells people to report a vulnerability: a mailto: or https URL (env REKOMI_SECURITY_CONTACT)")
	grace := fs.String("retention-grace-period", envOr("REKOMI_RETENTION_GRACE_PERIOD", cfg.RetentionGracePeriod.String()), "the Region's time from an organization's cancellation to the purge of its tenant rows, as /trust states it (env REKOMI_RETENTION_GRACE_PERIOD)")
	fs.StringVar(&cfg.Region, "region", envOr("REKOMI_REGION", ""), "the Region's name (env REKOMI_REGION)")
	fs.StringVar(&cfg.Location, "location", envOr("REKOMI_LOCATION", ""), "the Region's jurisdiction, us or eu (env REKOMI_LOCATION)")
	fs.StringVar(&cfg.PublicBaseURL, "public-base-url", envOr("REKOMI_PUBLIC_BASE_URL", ""), "where browsers and providers reach the app (env REKOMI_PUBLIC_BASE_URL)")
	fs.Int64Var(&cfg.MaxBodyBytes, "max-body-bytes", cfg.MaxBodyBytes, "largest request body accepted")
	fs.Float64Var(&cfg.RateLimit, "rate-limit", cfg.RateLimit, "requests per second one API key may make on average")
	fs.IntVar(&cfg.RateBurst, "rate-burst", cfg.RateBurst, "requests one API key may make at once")
	trustedProxies := fs.String("trusted-proxies", envOr("REKOMI_TRUSTED_PROXIES", ""), "comma-separated networks whose X-Forwarded-For (the client address) and X-Forwarded-Proto (https: HSTS and Secure cookies) are believed (env REKOMI_TRUSTED_PROXIES)")
	fs.DurationVar(&cfg.LinkCacheTTL, "link-cache-ttl", cfg.LinkCacheTTL, "how long a replica caches a referral code; other replicas see a link change or an affiliate suspension within this time")
	fs.DurationVar(&cfg.IsolationCheckInterval, "isolation-check-interval", cfg.IsolationCheckInterval, "how often the app verifies tenant isolation as its own database session; tenant routes answer 503 while it does not hold (at most 10s)")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "how long in-flight requests may take to finish on shutdown")
	fs.StringVar(&cfg.StripeAPIURL, "stripe-api-url", envOr("REKOMI_STRIPE_API_URL", ""), "Stripe's API URL, to use stripe-mock instead (env REKOMI_STRIPE_API_URL)")
	fs.StringVar(&cfg.AuditWitnessDir, "audit-witness-dir", envOr("REKOMI_AUDIT_WITNESS_DIR", ""), "directory of the operator's signed audit witnesses, one file per organization UUID, checked by GET /v1/audit-log/verify (env REKOMI_AUDIT_WITNESS_DIR)")
	fs.StringVar(&cfg.AuditWitnessPublicKey, "audit-witness-public-key", envOr("REKOMI_AUDIT_WITNESS_PUBLIC_KEY", ""), "base64 Ed25519 public key the audit witnesses must be signed with (env REKOMI_AUDIT_WITNESS_PUBLIC_KEY)")
	return func(ctx context.Context) error {
		if cfg.DatabaseURL == "" {
			cfg.DatabaseURL = os.Getenv("DATABASE_URL")
		}
		proxies, err := config.ParsePrefixes(*trustedProxies)
		if err != nil {
			return usageError{err}
		}
		cfg.TrustedProxies = proxies
		if cfg.RetentionGracePeriod, err = time.ParseDuration(*grace); err != nil {
			return usageError{fmt.Errorf("retention grace period: %w", err)}
		}
		return runApp(ctx, cfg, nil, nil, os.Stderr)
	}
}

// envOr returns the environment variable name, or def when it is unset. It
// is for flag defaults that are not secret: -h prints them.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// Exit codes of `rekomi migrate` beyond 0, 1 and 2.
const (
	exitDirtySchema = 3
	exitNewerSchema = 4
)

func migrateCommand(fs *flag.FlagSet, stdout io.Writer) func(context.Context) error {
	databaseURL := fs.String("database-url", "", "connection URL of the Region database as the owner role (default: env DATABASE_URL)")
	down := fs.Int("down", 0, "roll back this many migrations instead of applying them")
	showVersion := fs.Bool("version", false, "print the current schema version and exit")
	fs.Usage = withFooter(fs.Usage, fs, "\nExit codes: 0 done, 1 failed, 2 bad usage, 3 schema dirty (a migration failed part-way),\n"+
		"4 schema newer than this binary.\n")
	return func(ctx context.Context) error {
		url := *databaseURL
		if url == "" {
			url = os.Getenv("DATABASE_URL")
		}
		switch {
		case url == "":
			return usageError{errors.New("no database: pass --database-url or set DATABASE_URL")}
		case *down < 0:
			return usageError{fmt.Errorf("--down must be positive, got %d", *down)}
		case *down > 0 && *showVersion:
			return usageError{errors.New("--down and --version exclude each other")}
		}
		return runMigrate(ctx, stdout, url, *down, *showVersion)
	}
}

func runMigrate(ctx context.Context, stdout io.Writer, url string, down int, showVersion bool) (err error) {
	m, err := migrations.Open(ctx, url)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, m.Close()) }()

	var st migrations.Status
	switch {
	case showVersion:
		st, err = m.Status()
	case down > 0:
		st, err = m.Down(ctx, down)
	default:
		st, err = m.Up(ctx)
	}
	if err == nil && showVersion {
		err = checkSchemaStatus(st)
	}
	if err != nil {
		return migrateExitError(err)
	}
	_, err = fmt.Fprintf(stdout, "schema at version %d (this binary knows up to %d)\n", st.Version, st.Latest)
	return err
}

// checkSchemaStatus turns a dirty or newer schema into the matching error.
func checkSchemaStatus(st migrations.Status) error {
	switch {
	case st.Dirty:
		return fmt.Errorf("%w at version %d", migrations.ErrDirty, st.Version)
	case st.Version > st.Latest:
		return fmt.Errorf("%w: database at version %d, binary knows up to %d", migrations.ErrSchemaNewer, st.Version, st.Latest)
	}
	return nil
}

func migrateExitError(err error) error {
	switch {
	case errors.Is(err, migrations.ErrDirty):
		return exitError{code: exitDirtySchema, err: err}
	case errors.Is(err, migrations.ErrSchemaNewer):
		return exitError{code: exitNewerSchema, err: err}
	}
	return err
}

func devCommand(fs *flag.FlagSet, stdout io.Writer) func(context.Context) error {
	fresh := fs.Bool("fresh", false, "discard the PostgreSQL and control-plane data kept in --dir and start from scratch")
	demo := fs.Bool("demo", false, "also make a click on the starter link and deliver the signed Stripe events of a checkout and a paid invoice")
	dir := fs.String("dir", ".dev", "directory of the kubeconfig, key rings, logs and summary")
	return func(ctx context.Context) error {
		opts := devOptions(*dir, stdout)
		opts.Fresh, opts.Demo = *fresh, *demo
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("finding this binary, which runs the control plane: %w", err)
		}
		opts.Executable = self
		return devstack.Run(ctx, opts)
	}
}

// devOptions run the operator and the apps in this process with the same
// code as `rekomi manager` and `rekomi app`.
func devOptions(dir string, stdout io.Writer) devstack.Options {
	return devstack.Options{
		Dir:     dir,
		RepoDir: ".",
		Out:     stdout,
		RunManager: func(ctx context.Context, cfg *rest.Config, logOut io.Writer) error {
			return runManager(ctx, managerOptions{
				metricsAddr: "0", probeAddr: "0", resync: 5 * time.Minute, concurrency: 8,
				appImage: "rekomi:" + version, restConfig: cfg, logOut: logOut, restartable: true,
				// Where rekomi dev keeps the Regions' admin Secrets.
				operatorNamespace: "rekomi-system",
			})
		},
		RunApp: runApp,
	}
}

func versionCommand(_ *flag.FlagSet, stdout io.Writer) func(context.Context) error {
	return func(context.Context) error {
		_, err := fmt.Fprintf(stdout, "rekomi %s (%s %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return err
	}
}
