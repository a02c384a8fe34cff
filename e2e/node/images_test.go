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

package node_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/e2e/node"
)

// containerSpec is the part of a container's OCI spec this test reads.
type containerSpec struct {
	Spec struct {
		Process struct {
			User struct {
				UID uint32 `json:"uid"`
				GID uint32 `json:"gid"`
			} `json:"user"`
			Args []string `json:"args"`
		} `json:"process"`
		Root struct {
			Readonly bool `json:"readonly"`
		} `json:"root"`
	} `json:"Spec"`
}

// TestImagesRunUnderContainerd imports the images `make images` writes
// into a containerd of its own and runs them as a kubelet would: the
// rekomi image starts as user 65532 on a read-only root filesystem with
// the writable /tmp its pods mount, and the pause image is a sandbox.
func TestImagesRunUnderContainerd(t *testing.T) {
	assets := node.RequireEnv(t, "REKOMI_NODE_ASSETS", "run `make test` (it runs hack/node-assets.sh), or set it to the directory hack/node-assets.sh prints")
	images := node.RequireEnv(t, "REKOMI_IMAGES", "run `make test` (it runs `make images`), or set it to bin/images after `make images`")
	image := node.RequireEnv(t, "REKOMI_IMAGE", "REKOMI_IMAGE names the image in $REKOMI_IMAGES/rekomi.tar, such as rekomi.local/rekomi:test")
	c := node.StartContainerd(t, assets)
	ctx := context.Background()
	c.Import(t, filepath.Join(images, "rekomi.tar"))
	c.Import(t, filepath.Join(images, "pause.tar"))
	listed, err := c.Ctr(ctx, "images", "ls", "-q")
	require.NoError(t, err)
	ref := importedAs(strings.Fields(listed), image)
	require.NotEmpty(t, ref, "%s is among the imported images %s", image, listed)

	tmp := []string{"--read-only", "--mount", "type=tmpfs,src=tmpfs,dst=/tmp,options=rw:nosuid:nodev"}

	t.Run("RunsAsItsUserOnAReadOnlyRoot", func(t *testing.T) {
		out, err := c.Ctr(ctx, append(append([]string{"containers", "create"}, tmp...), ref, "rekomi-spec", "/rekomi", "version")...)
		require.NoError(t, err, out)
		info, err := c.Ctr(ctx, "containers", "info", "rekomi-spec")
		require.NoError(t, err)
		var spec containerSpec
		require.NoError(t, json.Unmarshal([]byte(info), &spec))
		require.Equal(t, uint32(65532), spec.Spec.Process.User.UID, "the image's user, not root")
		require.Equal(t, uint32(65532), spec.Spec.Process.User.GID)
		require.True(t, spec.Spec.Root.Readonly)
		_, err = c.Ctr(ctx, "containers", "delete", "rekomi-spec")
		require.NoError(t, err)

		out, err = c.Ctr(ctx, append(append([]string{"run", "--rm"}, tmp...), ref, "rekomi-version", "/rekomi", "version")...)
		require.NoError(t, err, out)
		require.True(t, strings.HasPrefix(out, "rekomi "), out)
		out, err = c.Ctr(ctx, append(append([]string{"run", "--rm"}, tmp...), ref, "rekomi-app-help", "/rekomi", "app", "--help")...)
		require.NoError(t, err, out)
		require.Contains(t, out, "Usage: rekomi app")
	})

	t.Run("NeedsAWritableTmp", func(t *testing.T) {
		// The pods the operator writes mount an emptyDir at /tmp; without
		// one the binary cannot start on a read-only root.
		_, err := c.Ctr(ctx, "run", "--rm", "--read-only", ref, "rekomi-no-tmp", "/rekomi", "version")
		require.ErrorContains(t, err, "read-only file system")
	})

	t.Run("PauseIsASandbox", func(t *testing.T) {
		out, err := c.Ctr(ctx, "containers", "create", "--read-only", "rekomi.local/pause:3.10", "pause-spec")
		require.NoError(t, err, out)
		info, err := c.Ctr(ctx, "containers", "info", "pause-spec")
		require.NoError(t, err)
		var spec containerSpec
		require.NoError(t, json.Unmarshal([]byte(info), &spec))
		require.Equal(t, uint32(65535), spec.Spec.Process.User.UID)
		require.Equal(t, []string{"/pause"}, spec.Spec.Process.Args)
		_, err = c.Ctr(ctx, "containers", "delete", "pause-spec")
		require.NoError(t, err)
	})
}

// importedAs is the name containerd gave image among names: the same, or
// with the default registry's prefix a short name gets; "" if none.
func importedAs(names []string, image string) string {
	for _, n := range names {
		if n == image || strings.HasSuffix(n, "/"+image) {
			return n
		}
	}
	return ""
}
