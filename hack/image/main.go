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

// Command image writes a container image of a static binary as a tarball
// that `ctr images import` and `docker load` read, without a Docker engine:
// the rekomi image the Dockerfile describes (the binary at /rekomi, the CA
// certificates, user 65532, entrypoint /rekomi), or the pause image a
// kubelet starts each pod's sandbox with. Layers are written
// reproducibly: the same inputs give the same image digest.
//
//	image -kind rekomi -binary bin/rekomi -tag rekomi:dev -o bin/images/rekomi.tar
//	image -kind pause -binary bin/pause -tag rekomi.local/pause:3.10 -o bin/images/pause.tar
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	kind := flag.String("kind", "rekomi", "the image to write: rekomi or pause")
	binary := flag.String("binary", "", "the static binary the image runs")
	ca := flag.String("ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "the CA bundle the rekomi image carries")
	tag := flag.String("tag", "", "the image's name and tag, such as rekomi:dev")
	out := flag.String("o", "", "the tarball to write")
	flag.Parse()
	if err := run(*kind, *binary, *ca, *tag, *out); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

// run writes the image kind of binary, tagged tag, to out.
func run(kind, binary, ca, tag, out string) error {
	if binary == "" || tag == "" || out == "" {
		return fmt.Errorf("-binary, -tag and -o are required")
	}
	var s spec
	switch kind {
	case "rekomi":
		s = rekomiSpec(binary, ca)
	case "pause":
		s = pauseSpec(binary)
	default:
		return fmt.Errorf("-kind %q: want rekomi or pause", kind)
	}
	img, err := s.build()
	if err != nil {
		return err
	}
	return write(img, tag, out)
}
