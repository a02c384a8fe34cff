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
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// file is one file of an image: Dst in the image, read from Src here.
type file struct {
	Dst, Src string
	Mode     int64
}

// spec is what an image holds and how it runs.
type spec struct {
	Files      []file
	User       string
	Entrypoint []string
}

// rekomiSpec is the image of the Dockerfile's final stage: the binary and
// the CA certificates (the app calls Stripe over TLS), run as an
// unprivileged user.
func rekomiSpec(binary, caCertificates string) spec {
	return spec{
		Files: []file{
			{Dst: "/etc/ssl/certs/ca-certificates.crt", Src: caCertificates, Mode: 0o644},
			{Dst: "/rekomi", Src: binary, Mode: 0o755},
		},
		User:       "65532:65532",
		Entrypoint: []string{"/rekomi"},
	}
}

// pauseSpec is the image of a pod's sandbox: the pause program alone, run
// as the unprivileged user Kubernetes' own pause image uses.
func pauseSpec(binary string) spec {
	return spec{
		Files:      []file{{Dst: "/pause", Src: binary, Mode: 0o755}},
		User:       "65535:65535",
		Entrypoint: []string{"/pause"},
	}
}

// build makes the image: one layer of s's files, OCI media types, the
// platform of this machine.
func (s spec) build() (v1.Image, error) {
	layerBytes, err := s.layer()
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("making the layer: %w", err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	if img, err = mutate.AppendLayers(img, layer); err != nil {
		return nil, fmt.Errorf("adding the layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cf.Config.User, cf.Config.Entrypoint = s.User, s.Entrypoint
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, fmt.Errorf("setting the config: %w", err)
	}
	return img, nil
}

// layer is a tar of s's files and their parent directories, owned by
// root, dated at the epoch, in path order, so the same files give the
// same bytes.
func (s spec) layer() ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	files := slices.Clone(s.Files)
	slices.SortFunc(files, func(a, b file) int { return strings.Compare(a.Dst, b.Dst) })
	written := map[string]bool{}
	for _, f := range files {
		for _, dir := range parents(f.Dst) {
			if written[dir] {
				continue
			}
			written[dir] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir[1:] + "/", Mode: 0o755,
				ModTime: time.Unix(0, 0), Format: tar.FormatPAX}); err != nil {
				return nil, fmt.Errorf("writing directory %s: %w", dir, err)
			}
		}
		data, err := os.ReadFile(f.Src)
		if err != nil {
			return nil, fmt.Errorf("reading %s for %s: %w", f.Src, f.Dst, err)
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.Dst[1:], Mode: f.Mode, Size: int64(len(data)),
			ModTime: time.Unix(0, 0), Format: tar.FormatPAX}); err != nil {
			return nil, fmt.Errorf("writing %s: %w", f.Dst, err)
		}
		if _, err := tw.Write(data); err != nil {
			return nil, fmt.Errorf("writing %s: %w", f.Dst, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("closing the layer: %w", err)
	}
	return buf.Bytes(), nil
}

// parents lists the directories above p, outermost first: /etc, /etc/ssl
// for /etc/ssl/certs.
func parents(p string) []string {
	var dirs []string
	for d := path.Dir(p); d != "/"; d = path.Dir(d) {
		dirs = append([]string{d}, dirs...)
	}
	return dirs
}

// write writes img, named tag, as a tarball at out.
func write(img v1.Image, tag, out string) error {
	ref, err := name.NewTag(tag, name.WeakValidation)
	if err != nil {
		return fmt.Errorf("-tag %q: %w", tag, err)
	}
	if err := os.MkdirAll(path.Dir(out), 0o755); err != nil {
		return fmt.Errorf("making the directory of %s: %w", out, err)
	}
	if err := tarball.WriteToFile(out, ref, img); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	return nil
}
