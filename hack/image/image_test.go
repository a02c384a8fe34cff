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

package main

import (
	"archive/tar"
	"bufio"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"
)

// dockerfileFacts reads what the final stage of a Dockerfile puts in the
// image and how it runs it: the destinations it copies, its USER and its
// ENTRYPOINT.
func dockerfileFacts(text string) (files []string, user string, entrypoint []string, err error) {
	stage := text[strings.LastIndex(text, "\nFROM ")+1:]
	sc := bufio.NewScanner(strings.NewReader(stage))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "COPY":
			files = append(files, fields[len(fields)-1])
		case "USER":
			user = fields[1]
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(strings.TrimPrefix(sc.Text(), "ENTRYPOINT ")), &entrypoint); err != nil {
				return nil, "", nil, fmt.Errorf("ENTRYPOINT is not an exec form: %w", err)
			}
		}
	}
	slices.Sort(files)
	return files, user, entrypoint, sc.Err()
}

// imageFile is a regular file of an image's layers.
type imageFile struct {
	path     string
	mode     int64
	uid, gid int
}

// imageFacts reads what img holds and how it runs.
func imageFacts(t *testing.T, img v1.Image) (files []imageFile, user string, entrypoint []string) {
	t.Helper()
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	layers, err := img.Layers()
	require.NoError(t, err)
	for _, l := range layers {
		rc, err := l.Uncompressed()
		require.NoError(t, err)
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			if h.Typeflag == tar.TypeReg {
				files = append(files, imageFile{path: "/" + h.Name, mode: h.Mode, uid: h.Uid, gid: h.Gid})
			}
		}
		require.NoError(t, rc.Close())
	}
	return files, cf.Config.User, cf.Config.Entrypoint
}

// sameAsDockerfile says how the image differs from what the Dockerfile
// text describes, or nil.
func sameAsDockerfile(t *testing.T, dockerfile string, img v1.Image) error {
	t.Helper()
	wantFiles, wantUser, wantEntrypoint, err := dockerfileFacts(dockerfile)
	if err != nil {
		return err
	}
	files, user, entrypoint := imageFacts(t, img)
	var paths []string
	for _, f := range files {
		paths = append(paths, f.path)
	}
	slices.Sort(paths)
	switch {
	case !slices.Equal(paths, wantFiles):
		return fmt.Errorf("files: the image has %v, the Dockerfile copies %v", paths, wantFiles)
	case user != wantUser:
		return fmt.Errorf("user: the image runs as %q, the Dockerfile as %q", user, wantUser)
	case !slices.Equal(entrypoint, wantEntrypoint):
		return fmt.Errorf("entrypoint: the image runs %v, the Dockerfile %v", entrypoint, wantEntrypoint)
	}
	return nil
}

// writeAndRead writes s's image as the command does and reads it back.
func writeAndRead(t *testing.T, s spec, tag string) v1.Image {
	t.Helper()
	img, err := s.build()
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "image.tar")
	require.NoError(t, write(img, tag, out))
	read, err := tarball.ImageFromPath(out, nil)
	require.NoError(t, err)
	return read
}

// fakeFile writes content to a new file and returns its path.
func fakeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// TestImageMatchesTheDockerfile builds the rekomi image as `make images`
// does and compares it with the Dockerfile's final stage: the same files,
// user and entrypoint, so the two cannot drift apart.
func TestImageMatchesTheDockerfile(t *testing.T) {
	t.Parallel()
	dockerfile, err := os.ReadFile("../../Dockerfile")
	require.NoError(t, err)
	img := writeAndRead(t, rekomiSpec(fakeFile(t, "binary"), fakeFile(t, "certificates")), "rekomi:test")
	require.NoError(t, sameAsDockerfile(t, string(dockerfile), img))

	files, user, _ := imageFacts(t, img)
	require.NotEqual(t, "0", strings.Split(user, ":")[0], "the image does not run as root")
	for _, f := range files {
		require.Zero(t, f.uid+f.gid, "%s is owned by root, so the process cannot change it", f.path)
		if f.path == "/rekomi" {
			require.Equal(t, int64(0o755), f.mode)
		}
	}

	t.Run("ADriftIsFound", func(t *testing.T) {
		t.Parallel()
		for what, change := range map[string][2]string{
			"another user":       {"USER 65532:65532", "USER 0:0"},
			"another file":       {"COPY --from=build /out/rekomi /rekomi", "COPY --from=build /out/rekomi /rekomi\nCOPY --from=build /etc/passwd /etc/passwd"},
			"another entrypoint": {`ENTRYPOINT ["/rekomi"]`, `ENTRYPOINT ["/rekomi", "app"]`},
		} {
			changed := strings.Replace(string(dockerfile), change[0], change[1], 1)
			require.NotEqual(t, string(dockerfile), changed, what)
			require.Error(t, sameAsDockerfile(t, changed, img), what)
		}
	})
}

func TestImagesAreReproducible(t *testing.T) {
	t.Parallel()
	s := rekomiSpec(fakeFile(t, "binary"), fakeFile(t, "certificates"))
	first, second := writeAndRead(t, s, "rekomi:a"), writeAndRead(t, s, "rekomi:b")
	d1, err := first.Digest()
	require.NoError(t, err)
	d2, err := second.Digest()
	require.NoError(t, err)
	require.Equal(t, d1, d2, "the same files give the same image")
	other, err := writeAndRead(t, rekomiSpec(fakeFile(t, "another binary"), fakeFile(t, "certificates")), "rekomi:c").Digest()
	require.NoError(t, err)
	require.NotEqual(t, d1, other)
}

// TestPauseImage builds the pause program as `make images` does: it is
// static, and it exits 0 on SIGTERM.
func TestPauseImage(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "pause")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./pause")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	f, err := elf.Open(bin)
	require.NoError(t, err)
	for _, p := range f.Progs {
		require.NotEqual(t, elf.PT_INTERP, p.Type, "the pause binary is static: the image has no loader")
	}
	require.NoError(t, f.Close())

	files, user, entrypoint := imageFacts(t, writeAndRead(t, pauseSpec(bin), "rekomi.local/pause:test"))
	require.Equal(t, []imageFile{{path: "/pause", mode: 0o755}}, files)
	require.Equal(t, "65535:65535", user)
	require.Equal(t, []string{"/pause"}, entrypoint)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	_, err = io.Copy(io.Discard, stdout) // until the program closes it: it handles signals
	require.NoError(t, err)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), "SIGTERM ends the sandbox cleanly")
}

func TestRunRefusesBadInput(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "x.tar")
	require.ErrorContains(t, run("rekomi", "", "", "rekomi:x", out), "required")
	require.ErrorContains(t, run("kernel", fakeFile(t, "b"), "", "rekomi:x", out), "want rekomi or pause")
	require.ErrorContains(t, run("rekomi", "/no/such/binary", fakeFile(t, "ca"), "rekomi:x", out), "/no/such/binary")
	require.ErrorContains(t, run("rekomi", fakeFile(t, "b"), fakeFile(t, "ca"), "Not A Tag!", out), "-tag")
	require.NoFileExists(t, out, "nothing is written on a refusal")
}
