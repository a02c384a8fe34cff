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
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrDirInUse means another rekomi dev runs on the same state directory.
var ErrDirInUse = errors.New("state directory in use")

// lockFile, in the state directory, is locked by the rekomi dev that uses
// the directory and holds its process id. The kernel releases the lock when
// that process ends, however it ends.
const lockFile = "rekomi-dev.lock"

// lockDir creates dir if needed and locks it for this process, or fails
// with ErrDirInUse, naming the process that holds it. unlock releases it.
func lockDir(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	locked, err := tryLock(f)
	if err != nil || !locked {
		holder, _ := os.ReadFile(path)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		return nil, dirInUse(dir, strings.TrimSpace(string(holder)))
	}
	if err := writePID(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return func() { release(f) }, nil
}

// tryLock takes an exclusive lock on f without waiting, and reports false
// when another open file holds one. release releases it.
func tryLock(f *os.File) (bool, error) {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

// release unlocks f and closes it. Closing alone would not do: a process
// forked meanwhile, anywhere in this program, shares the locked open file
// until it execs, and the lock would be held that long.
func release(f *os.File) {
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	f.Close()
}

func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

func dirInUse(dir, pid string) error {
	if _, err := strconv.Atoi(pid); err != nil {
		return fmt.Errorf("%w: another rekomi dev runs on %s: stop it first (Ctrl-C in its terminal), or give this one another --dir",
			ErrDirInUse, dir)
	}
	return fmt.Errorf("%w: another rekomi dev (pid %s) runs on %s: stop it first (Ctrl-C in its terminal, or `kill -INT %s`), "+
		"or give this one another --dir", ErrDirInUse, pid, dir, pid)
}
