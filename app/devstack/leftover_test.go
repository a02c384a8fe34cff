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

package devstack

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCheckEtcdDataFree(t *testing.T) {
	t.Parallel()

	// setup returns an etcd data directory with a database file.
	setup := func(t *testing.T) (etcdDir, db string) {
		etcdDir = filepath.Join(t.TempDir(), "etcd")
		db = filepath.Join(etcdDir, "member", "snap", "db")
		require.NoError(t, os.MkdirAll(filepath.Dir(db), 0o700))
		require.NoError(t, os.WriteFile(db, nil, 0o600))
		return etcdDir, db
	}
	// lock holds etcd's lock on db until the test ends, as a running etcd does.
	lock := func(t *testing.T, db string) {
		f, err := os.OpenFile(db, os.O_RDWR, 0)
		require.NoError(t, err)
		t.Cleanup(func() { _ = f.Close() })
		require.NoError(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB))
	}
	// run starts a process whose command line carries args, stopped when
	// the test ends, and returns its id once its child runs sleep: until
	// then, the child it forks shows the same command line.
	run := func(t *testing.T, args ...string) string {
		cmd := exec.Command("sh", append([]string{"-c", "sleep 60; :"}, args...)...)
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		pid := strconv.Itoa(cmd.Process.Pid)
		require.Eventually(t, func() bool {
			children, err := os.ReadFile(filepath.Join("/proc", pid, "task", pid, "children"))
			if err != nil || len(bytes.Fields(children)) == 0 {
				return false
			}
			child, err := os.ReadFile(filepath.Join("/proc", string(bytes.Fields(children)[0]), "cmdline"))
			return err == nil && bytes.HasPrefix(child, []byte("sleep\x00"))
		}, 10*time.Second, 10*time.Millisecond, "the shell of %v runs sleep", args)
		return pid
	}

	t.Run("PassesWithoutData", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, checkEtcdDataFree(filepath.Join(t.TempDir(), "etcd")))
	})

	t.Run("PassesUnlockedData", func(t *testing.T) {
		t.Parallel()
		etcdDir, _ := setup(t)
		require.NoError(t, checkEtcdDataFree(etcdDir))
		require.NoError(t, checkEtcdDataFree(etcdDir), "the check leaves no lock behind")
	})

	t.Run("NamesTheLeftoverEtcdAndKubeAPIServer", func(t *testing.T) {
		t.Parallel()
		etcdDir, db := setup(t)
		lock(t, db)
		clientURL := "unix://" + etcdDir + ".sock" // no real etcd listens there
		etcd := run(t, "etcd", "--data-dir="+etcdDir, "--listen-client-urls="+clientURL)
		apiserver := run(t, "kube-apiserver", "--etcd-servers="+clientURL)
		run(t, "kube-apiserver", "--etcd-servers=http://127.0.0.1:2") // another control plane's

		err := checkEtcdDataFree(etcdDir)
		require.ErrorIs(t, err, ErrEtcdDataInUse)
		require.ErrorContains(t, err, "`kill -9 "+etcd+" "+apiserver+"`")
	})

	t.Run("SaysHowToFindAnUnnamedHolder", func(t *testing.T) {
		t.Parallel()
		etcdDir, db := setup(t)
		lock(t, db)

		err := checkEtcdDataFree(etcdDir)
		require.ErrorIs(t, err, ErrEtcdDataInUse)
		require.ErrorContains(t, err, "`ps -ef | grep -e --data-dir="+etcdDir+"`")
	})
}
