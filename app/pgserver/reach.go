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

package pgserver

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// ErrDirUnreachable means the user the server runs as cannot enter a
// directory above its data.
var ErrDirUnreachable = errors.New("data directory out of the postgres user's reach")

// checkReachable fails with ErrDirUnreachable when cred's user may not enter
// dir or a directory above it: initdb and postgres, run as that user, would
// fail to start with no more than "permission denied". A nil cred is the
// caller, who reaches what it created.
func checkReachable(dir string, cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", dir, err)
	}
	// With NoSetGroups the server keeps the caller's supplementary groups.
	groups, err := os.Getgroups()
	if err != nil {
		return fmt.Errorf("reading the supplementary groups: %w", err)
	}
	var paths, described []string
	for d := abs; ; d = filepath.Dir(d) {
		info, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("checking %s: %w", d, err)
		}
		if !searchable(info, cred, groups) {
			paths = append([]string{d}, paths...)
			described = append([]string{describeDir(d, info)}, described...)
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	if len(paths) == 0 {
		return nil
	}
	return fmt.Errorf("%w: PostgreSQL refuses to run as root, so it runs as the postgres user, "+
		"who cannot enter %s: keep the data in a directory that user can reach, or let it through with `chmod o+x %s`",
		ErrDirUnreachable, strings.Join(described, ", "), strings.Join(paths, " "))
}

// searchable says whether cred's user, with the supplementary groups, may
// enter the directory described by info.
func searchable(info fs.FileInfo, cred *syscall.Credential, groups []int) bool {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return true // no owner to compare with: let the server say what it finds
	}
	perm := info.Mode().Perm()
	switch {
	case cred.Uid == 0:
		return true
	case st.Uid == cred.Uid:
		return perm&0o100 != 0
	case st.Gid == cred.Gid || slices.Contains(groups, int(st.Gid)):
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}

// describeDir is a directory's path with its mode and owner, as ls shows them.
func describeDir(path string, info fs.FileInfo) string {
	owner := "?"
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		owner = strconv.FormatUint(uint64(st.Uid), 10)
		if u, err := user.LookupId(owner); err == nil {
			owner = u.Username
		}
	}
	return fmt.Sprintf("%s (%s, owner %s)", path, info.Mode(), owner)
}
