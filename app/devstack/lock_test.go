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
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLockDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "dev")

	unlock, err := lockDir(dir)
	require.NoError(t, err, "the first rekomi dev on a directory takes it")
	pid, err := os.ReadFile(filepath.Join(dir, lockFile))
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(os.Getpid())+"\n", string(pid), "the lock names its holder")

	_, err = lockDir(dir)
	require.ErrorIs(t, err, ErrDirInUse, "a second one on the same directory is refused")
	require.ErrorContains(t, err, "another rekomi dev (pid "+strconv.Itoa(os.Getpid())+") runs on "+dir)
	require.ErrorContains(t, err, "kill -INT "+strconv.Itoa(os.Getpid()))

	unlock()
	unlock, err = lockDir(dir)
	require.NoError(t, err, "the directory is free again once its holder let go")
	unlock()
}

// TestReleaseFreesALockAChildShares releases a lock that a child process
// shares, as one forked at that moment does until it execs: closing the
// file alone would leave the lock held as long as the child.
func TestReleaseFreesALockAChildShares(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lock")
	open := func() *os.File {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		require.NoError(t, err)
		return f
	}
	f := open()
	locked, err := tryLock(f)
	require.NoError(t, err)
	require.True(t, locked)
	child := exec.Command("sleep", "60")
	child.ExtraFiles = []*os.File{f}
	require.NoError(t, child.Start())
	t.Cleanup(func() {
		_ = child.Process.Kill()
		_ = child.Wait()
	})

	release(f)
	g := open()
	defer release(g)
	locked, err = tryLock(g)
	require.NoError(t, err)
	require.True(t, locked, "the lock is free once released, although the child still has the file open")
}
