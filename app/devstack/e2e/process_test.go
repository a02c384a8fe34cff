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

package e2e_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	// readyTimeout bounds the start, which takes about 10 s on an idle
	// machine and much longer beside the rest of `make test`.
	readyTimeout = 3 * time.Minute
	// stopTimeout bounds the stop after SIGINT; rekomi dev gives each
	// process it started 30 s.
	stopTimeout = 90 * time.Second
)

// devProcess is `rekomi dev` running as its own process, in its own
// session: the servers it starts (PostgreSQL, etcd, kube-apiserver) put
// themselves in process groups of their own but stay in that session.
type devProcess struct {
	cmd  *exec.Cmd
	dir  string // its --dir
	out  *output
	done chan struct{} // closed once it exited; err is then set
	err  error
	gone bool // nothing of it was left running
}

// stackFile is the part of <dir>/stack.json the test reads.
type stackFile struct {
	Kubeconfig    string     `json:"kubeconfig"`
	Apps          []stackApp `json:"apps"`
	Organizations []stackOrg `json:"organizations"`
}

type stackApp struct {
	Region     string `json:"region"`
	URL        string `json:"url"`
	MetricsURL string `json:"metrics_url"`
}

type stackOrg struct {
	Name   string `json:"name"`
	Region string `json:"region"`
	APIKey string `json:"api_key"`
}

// startDev runs `rekomi dev --dir <dir>` from the root of the source tree
// and waits until it prints "ready in" and the summary after it. The stack is killed,
// and its output and logs are shown, when the test fails.
func startDev(t *testing.T, dir string) *devProcess {
	t.Helper()
	root := repoRoot(t)
	assets := assetsDir(t)
	bin := rekomiBinary(t, root)
	p := &devProcess{dir: dir, out: newOutput(), done: make(chan struct{})}
	p.cmd = exec.Command(bin, "dev", "--dir", p.dir)
	p.cmd.Dir = root
	p.cmd.Env = append(os.Environ(), "KUBEBUILDER_ASSETS="+assets)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.WaitDelay = 10 * time.Second
	// A session of its own; should this test process die, rekomi dev is
	// told to stop as on Ctrl-C.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGTERM}
	began := time.Now()
	require.NoError(t, p.cmd.Start(), "starting %s dev", bin)
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.cleanup(t) })

	select {
	case <-p.out.ready:
		t.Logf("rekomi dev ready in %.1fs (it says %ss)", time.Since(began).Seconds(), p.out.readyIn())
	case <-p.done:
		t.Fatalf("rekomi dev exited before it was ready: %v", p.err)
	case <-time.After(readyTimeout):
		t.Fatalf("rekomi dev did not print \"ready in\" within %s", readyTimeout)
	}
	return p
}

// repoRoot is the root of the source tree, where rekomi dev reads config/.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "config", "samples"))
	require.NoError(t, err, "the source tree's root is three levels up from app/devstack/e2e")
	return root
}

// assetsDir is where kube-apiserver and etcd are. rekomi dev would build
// them itself when KUBEBUILDER_ASSETS is unset, which takes many minutes
// the first time, so the test asks for them instead.
func assetsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make e2e` or `make test`, or " +
			"`export KUBEBUILDER_ASSETS=\"$(hack/envtest-assets.sh)\"` (`make envtest-assets` builds kube-apiserver and etcd once)")
	}
	for _, name := range []string{"kube-apiserver", "etcd"} {
		_, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err, "KUBEBUILDER_ASSETS=%s lacks %s: run `make envtest-assets`", dir, name)
	}
	return dir
}

// rekomiBinary is $REKOMI_BIN (relative to the source tree's root), or a
// binary built from the source tree.
func rekomiBinary(t *testing.T, root string) string {
	t.Helper()
	if bin := os.Getenv("REKOMI_BIN"); bin != "" {
		if !filepath.IsAbs(bin) {
			bin = filepath.Join(root, bin)
		}
		_, err := os.Stat(bin)
		require.NoError(t, err, "REKOMI_BIN names no file: run `make build`, or unset it to build one here")
		return bin
	}
	bin := filepath.Join(t.TempDir(), "rekomi")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building rekomi: %s", out)
	return bin
}

// stateDir is a new directory for --dir. As root, PostgreSQL runs as the
// postgres user, who must reach its data through the parent directories.
func stateDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "dev")
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755))
	require.NoError(t, os.Chmod(filepath.Dir(filepath.Dir(dir)), 0o755))
	return dir
}

// stack reads stack.json, written before "ready in" is printed, and checks
// that the printed summary says the same.
func (p *devProcess) stack(t *testing.T) stackFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(p.dir, "stack.json"))
	require.NoError(t, err)
	var s stackFile
	require.NoError(t, json.Unmarshal(data, &s), "%s", data)
	require.NotEmpty(t, s.Apps)
	require.NotEmpty(t, s.Organizations)
	printed := p.out.String()
	require.Contains(t, printed, "export KUBECONFIG="+s.Kubeconfig)
	for _, a := range s.Apps {
		require.Contains(t, printed, a.URL)
	}
	for _, o := range s.Organizations {
		require.Contains(t, printed, o.APIKey, "the admin API key of %s is printed", o.Name)
	}
	return s
}

// interrupt sends SIGINT, as Ctrl-C does, and expects rekomi dev to stop
// everything and exit with status 0.
func (p *devProcess) interrupt(t *testing.T) {
	t.Helper()
	began := time.Now()
	require.NoError(t, p.cmd.Process.Signal(os.Interrupt))
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		t.Fatalf("rekomi dev did not exit within %s of SIGINT", stopTimeout)
	}
	t.Logf("rekomi dev stopped %.1fs after SIGINT", time.Since(began).Seconds())
	require.NoError(t, p.err, "rekomi dev exits with status 0 on SIGINT")
	require.True(t, strings.HasSuffix(p.out.String(), "stopped\n"), "it says it stopped")
}

// killLeader kills rekomi dev alone (SIGKILL), as a crash or an OOM kill
// would, leaving it no chance to stop what it started.
func (p *devProcess) killLeader(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Kill())
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		t.Fatalf("rekomi dev did not exit after SIGKILL")
	}
}

// requireNothingLeft expects no process of the stack's session or process
// group to be running, and none of the sockets it listened on to be open,
// within a few seconds: a killed process's threads may still be ending,
// and holding its sockets, once its main thread is a zombie. The sockets
// are told apart by inode, so a process that has since taken one of their
// ports, as any may, is not taken for the stack.
func (p *devProcess) requireNothingLeft(t *testing.T, listened []listener) {
	t.Helper()
	var left []proc
	var open []listener
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		left, err = stackProcs(p.cmd.Process.Pid)
		require.NoError(t, err)
		open, err = stillListening(listened)
		require.NoError(t, err)
		if len(left)+len(open) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.Empty(t, left, "processes of rekomi dev still running after it exited")
	require.Empty(t, open, "sockets of rekomi dev still listening after it exited")
	p.gone = true
}

// cleanup kills whatever is left of the stack and, when the test failed,
// shows what rekomi dev printed and the end of each of its logs.
func (p *devProcess) cleanup(t *testing.T) {
	select {
	case <-p.done:
	default:
		p.kill(t)
	}
	// Kill what outlived it, in the session or the process group; unless
	// nothing did, when its pid may since belong to another test's server.
	if left, err := stackProcs(p.cmd.Process.Pid); err == nil && !p.gone {
		for _, pr := range left {
			_ = syscall.Kill(pr.pid, syscall.SIGKILL)
		}
	}
	if !t.Failed() {
		return
	}
	t.Logf("rekomi dev printed:\n%s", p.out.String())
	logs, _ := filepath.Glob(filepath.Join(p.dir, "logs", "*"))
	for _, log := range logs {
		data, err := os.ReadFile(log)
		if err != nil {
			t.Logf("%s: %v", log, err)
			continue
		}
		t.Logf("end of %s:\n%s", filepath.Base(log), tail(data, 3000))
	}
}

// kill ends rekomi dev and its servers at once.
func (p *devProcess) kill(t *testing.T) {
	pid := p.cmd.Process.Pid
	procs, err := stackProcs(pid)
	if err != nil {
		t.Logf("listing the processes of rekomi dev: %v", err)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	for _, pr := range procs {
		_ = syscall.Kill(pr.pid, syscall.SIGKILL)
	}
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		t.Logf("rekomi dev (pid %d) did not exit after SIGKILL", pid)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// output keeps what rekomi dev prints and says when it printed its "ready
// in" line.
type output struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	ready chan struct{}
	took  string
}

var readyLine = regexp.MustCompile(`(?m)^ready in ([0-9.]+)s\n`)

// summaryEnd ends the summary printed after readyLine.
var summaryEnd = []byte("Press Ctrl-C to stop everything.\n")

func newOutput() *output { return &output{ready: make(chan struct{})} }

func (o *output) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(b)
	if o.took == "" {
		if m := readyLine.FindSubmatch(o.buf.Bytes()); m != nil && bytes.Contains(o.buf.Bytes(), summaryEnd) {
			o.took = string(m[1])
			close(o.ready)
		}
	}
	return len(b), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

func (o *output) readyIn() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.took
}
