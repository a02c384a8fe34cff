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

package dbtest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/pgserver"
)

func TestStartFix(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		err  error
		want string
	}{
		"an unreachable temporary directory asks for another TMPDIR": {
			err:  fmt.Errorf("%w: who cannot enter /root", pgserver.ErrDirUnreachable),
			want: "`TMPDIR=/var/tmp make test`",
		},
		"missing binaries ask for make postgres": {
			err:  fmt.Errorf("%w under /usr/lib/postgresql/*/bin", pgserver.ErrNoBinaries),
			want: "run `make postgres`",
		},
		"any other failure asks for make postgres": {
			err:  errors.New("initdb: exit status 1"),
			want: "run `make postgres`",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fix := startFix(tc.err)
			require.Contains(t, fix, tc.want)
			require.Contains(t, fix, EnvURL, "a server of one's own is always a way out")
		})
	}
}
