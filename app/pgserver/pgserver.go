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

// Package pgserver runs a throwaway PostgreSQL server from the operating
// system's server binaries (initdb, postgres), listening on loopback only and
// protected by a generated superuser password. Tests and `rekomi dev` use it;
// it never touches a server it did not start.
package pgserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultBinGlob is where Debian and Ubuntu install the server binaries of
// each PostgreSQL major version.
const DefaultBinGlob = "/usr/lib/postgresql/*/bin"

// superuser is the name of the bootstrap superuser that initdb creates.
const superuser = "postgres"

// ErrNoBinaries means no PostgreSQL server binaries were found.
var ErrNoBinaries = errors.New("PostgreSQL server binaries (initdb, postgres) not found")

// Options configure a server. The zero value is ready to use.
type Options struct {
	// BinDir holds initdb and postgres. Empty means the newest version found
	// under DefaultBinGlob.
	BinDir string
	// Settings are extra server settings passed as `-c name=value`.
	Settings map[string]string
	// Log receives the server's own log. Nil discards it (the tail is still
	// kept for error messages).
	Log io.Writer
	// StartTimeout bounds the wait for the server to accept connections.
	// Zero means 60 seconds.
	StartTimeout time.Duration
	// Port is the port to listen on; zero picks a free one. With Dir, it
	// lets a restarted server keep its address.
	Port int
	// Listen are addresses to listen on besides loopback, such as a
	// bridge's that containers reach.
	Listen []string
	// Clients are networks (CIDR) besides loopback allowed to connect,
	// with the superuser's password like every connection.
	Clients []string
	// Dir, when set, keeps the cluster there instead of in a temporary
	// directory: created on the first start, reused by later ones and kept
	// by Stop. Its parent must be reachable by the server's user.
	Dir string
}

// Server is a running PostgreSQL server. Stop it when done.
type Server struct {
	url     string
	baseDir string
	keep    bool
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	logTail *tailBuffer
}

// URL is the superuser's connection URL to the `postgres` database.
func (s *Server) URL() string { return s.url }

// Start creates a fresh cluster in a temporary directory (or reuses the one
// in Options.Dir) and starts a server on a free loopback port. When the
// caller is root, initdb and postgres run as the `postgres` user, since both
// refuse to run as root.
func Start(ctx context.Context, opts Options) (*Server, error) {
	binDir, err := findBinDir(opts.BinDir)
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	baseDir, password, created, err := prepareCluster(ctx, binDir, opts.Dir, cred)
	if err != nil {
		return nil, err
	}
	discard := func() {
		if created {
			_ = os.RemoveAll(baseDir)
		}
	}
	// A free port can be taken between our probe and the server's bind:
	// try a few ports before giving up.
	for attempt := 1; ; attempt++ {
		srv, err := launch(ctx, binDir, baseDir, password, cred, opts)
		if err == nil {
			srv.keep = opts.Dir != ""
			return srv, nil
		}
		if attempt == 3 || opts.Port != 0 || !errors.Is(err, errPortInUse) {
			discard()
			return nil, err
		}
	}
}

// passwordFile keeps the superuser password of a cluster in Options.Dir.
const passwordFile = "superuser-password"

// prepareCluster returns the directory of a ready cluster and its superuser
// password: a new cluster in a temporary directory, or the one kept in dir,
// created there the first time. created says whether it is new.
func prepareCluster(ctx context.Context, binDir, dir string, cred *syscall.Credential) (string, string, bool, error) {
	if dir != "" {
		if pw, err := os.ReadFile(filepath.Join(dir, passwordFile)); err == nil {
			if err := checkReachable(filepath.Dir(dir), cred); err != nil {
				return "", "", false, err
			}
			return dir, strings.TrimSpace(string(pw)), false, nil
		}
	}
	baseDir, err := makeBaseDir(dir, cred)
	if err != nil {
		return "", "", false, err
	}
	if err := checkReachable(filepath.Dir(baseDir), cred); err != nil {
		_ = os.RemoveAll(baseDir)
		return "", "", false, err
	}
	password, err := initCluster(ctx, binDir, baseDir, cred)
	if err == nil && dir != "" {
		// Written last: its presence means the cluster is complete.
		err = os.WriteFile(filepath.Join(dir, passwordFile), []byte(password+"\n"), 0o600)
	}
	if err != nil {
		_ = os.RemoveAll(baseDir)
		return "", "", false, err
	}
	return baseDir, password, true, nil
}

// Stop shuts the server down (fast shutdown, then a kill after ctx is done)
// and deletes its data, unless it is kept in Options.Dir.
func (s *Server) Stop(ctx context.Context) error {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGINT)
	}
	select {
	case <-s.exited:
	case <-ctx.Done():
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	if s.keep {
		return nil
	}
	if err := os.RemoveAll(s.baseDir); err != nil {
		return fmt.Errorf("removing PostgreSQL data in %s: %w", s.baseDir, err)
	}
	return nil
}

func findBinDir(dir string) (string, error) {
	if dir != "" {
		if !hasServerBinaries(dir) {
			return "", fmt.Errorf("%w in %s: %s", ErrNoBinaries, dir, fixHint)
		}
		return dir, nil
	}
	dirs, _ := filepath.Glob(DefaultBinGlob)
	// Newest major version first.
	sort.Slice(dirs, func(i, j int) bool { return majorVersion(dirs[i]) > majorVersion(dirs[j]) })
	for _, d := range dirs {
		if hasServerBinaries(d) {
			return d, nil
		}
	}
	return "", fmt.Errorf("%w under %s: %s", ErrNoBinaries, DefaultBinGlob, fixHint)
}

const fixHint = "run `make postgres` (hack/install-postgres.sh installs the OS package); " +
	"tests can use a server of your own instead, named by REKOMI_TEST_DATABASE_URL"

func hasServerBinaries(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

func majorVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// makeBaseDir creates the directory that holds the cluster's data, socket and
// log, owned by the user the server runs as: dir, or a temporary one.
func makeBaseDir(dir string, cred *syscall.Credential) (string, error) {
	var err error
	if dir == "" {
		dir, err = os.MkdirTemp("", "rekomi-pg-")
	} else {
		err = os.MkdirAll(dir, 0o700)
	}
	if err != nil {
		return "", fmt.Errorf("creating PostgreSQL directory: %w", err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			_ = os.RemoveAll(dir)
			return "", fmt.Errorf("handing %s to the postgres user: %w", dir, err)
		}
	}
	return dir, nil
}

// initCluster runs initdb with a generated superuser password and password
// authentication for every connection, and returns the password.
func initCluster(ctx context.Context, binDir, baseDir string, cred *syscall.Credential) (string, error) {
	password, err := randomHex(24)
	if err != nil {
		return "", err
	}
	pwFile := filepath.Join(baseDir, "pwfile")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing initdb password file: %w", err)
	}
	defer os.Remove(pwFile)
	if cred != nil {
		if err := os.Chown(pwFile, int(cred.Uid), int(cred.Gid)); err != nil {
			return "", fmt.Errorf("handing the password file to the postgres user: %w", err)
		}
	}
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"),
		"--pgdata", filepath.Join(baseDir, "data"),
		"--username", superuser,
		"--pwfile", pwFile,
		"--auth", "scram-sha-256",
		"--encoding", "UTF8",
		"--no-locale",
		"--no-sync",
	)
	cmd.Dir = baseDir
	cmd.SysProcAttr = procAttr(cred)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("initdb: %w: %s", err, bytes.TrimSpace(out))
	}
	return password, nil
}

var errPortInUse = errors.New("port already in use")

func launch(ctx context.Context, binDir, baseDir, password string, cred *syscall.Credential, opts Options) (*Server, error) {
	port := opts.Port
	if port == 0 {
		var err error
		if port, err = freePort(opts.Listen); err != nil {
			return nil, err
		}
	}
	args := []string{
		"-D", filepath.Join(baseDir, "data"),
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=" + strings.Join(append([]string{"127.0.0.1"}, opts.Listen...), ","),
		"-c", "unix_socket_directories=" + baseDir,
	}
	if len(opts.Clients) > 0 {
		hba, err := writeHBA(baseDir, opts.Clients, cred)
		if err != nil {
			return nil, err
		}
		args = append(args, "-c", "hba_file="+hba)
	}
	for _, name := range sortedKeys(opts.Settings) {
		args = append(args, "-c", name+"="+opts.Settings[name])
	}
	tail := &tailBuffer{max: 8 << 10}
	var log io.Writer = tail
	if opts.Log != nil {
		log = io.MultiWriter(tail, opts.Log)
	}
	// Not CommandContext: the server outlives ctx, which only bounds the start.
	cmd := exec.Command(filepath.Join(binDir, "postgres"), args...)
	cmd.Dir = baseDir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = procAttr(cred)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting postgres: %w", err)
	}
	s := &Server{
		url:     connURL(port, password),
		baseDir: baseDir,
		cmd:     cmd,
		exited:  make(chan struct{}),
		logTail: tail,
	}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	err := s.waitReady(ctx, opts.StartTimeout)
	// The server starts when it could bind one of its addresses, but it
	// must serve them all.
	if bound := !strings.Contains(tail.String(), "could not bind") && !strings.Contains(tail.String(), "Address already in use"); err != nil || !bound {
		_ = cmd.Process.Kill()
		<-s.exited
		if !bound {
			return nil, fmt.Errorf("%w: %d: %s", errPortInUse, port, tail.String())
		}
		return nil, err
	}
	return s, nil
}

// writeHBA writes the client authentication rules of a server that also
// accepts the networks clients, each with the password, and returns the
// file's path.
func writeHBA(baseDir string, clients []string, cred *syscall.Credential) (string, error) {
	rules := []string{
		"local all all scram-sha-256",
		"host all all 127.0.0.1/32 scram-sha-256",
		"host all all ::1/128 scram-sha-256",
	}
	for _, c := range clients {
		prefix, err := netip.ParsePrefix(c)
		if err != nil {
			return "", fmt.Errorf("a client network: %w", err)
		}
		rules = append(rules, "host all all "+prefix.Masked().String()+" scram-sha-256")
	}
	path := filepath.Join(baseDir, "pg_hba.conf")
	if err := os.WriteFile(path, []byte(strings.Join(rules, "\n")+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing the client authentication rules: %w", err)
	}
	if cred != nil {
		if err := os.Chown(path, int(cred.Uid), int(cred.Gid)); err != nil {
			return "", fmt.Errorf("handing %s to the postgres user: %w", path, err)
		}
	}
	return path, nil
}

func (s *Server) waitReady(ctx context.Context, timeout time.Duration) error {
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		conn, err := pgx.Connect(ctx, s.url)
		if err == nil {
			return conn.Close(ctx)
		}
		lastErr = err
		select {
		case <-s.exited:
			return fmt.Errorf("postgres exited during start (%v): %s", s.waitErr, s.logTail.String())
		case <-ctx.Done():
			return fmt.Errorf("postgres did not accept connections within %s (last error: %w): %s", timeout, lastErr, s.logTail.String())
		case <-tick.C:
		}
	}
}

func connURL(port int, password string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(superuser, password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Path:     "/postgres",
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// freePort finds a port free on loopback and on each of the other
// addresses, which may hold sockets of their own (a bridge's address is
// the source of the machine's connections to its containers).
func freePort(others []string) (int, error) {
	var last error
	for attempt := 0; attempt < 20; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("finding a free loopback port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		var busy error
		for _, addr := range others {
			other, err := net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(port)))
			if err != nil {
				busy = err
				break
			}
			_ = other.Close()
		}
		_ = l.Close()
		if busy == nil {
			return port, nil
		}
		last = busy
	}
	return 0, fmt.Errorf("no port is free on loopback and %s: %w", strings.Join(others, ", "), last)
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating a password: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
