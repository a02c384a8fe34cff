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

// Command benchjson reads `go test -bench` output on stdin, prints each
// measurement as one "name value unit" line and writes them all as JSON to
// the file named by -o, so that runs can be compared side by side.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/perf/benchfmt"
)

// measurement is one value of one benchmark.
type measurement struct {
	Package string  `json:"package"`
	Name    string  `json:"name"`
	Value   float64 `json:"value"`
	Unit    string  `json:"unit"`
}

func main() {
	out := flag.String("o", "bench/results.json", "file to write the JSON results to")
	flag.Parse()
	if err := run(os.Stdin, os.Stdout, *out); err != nil {
		fmt.Fprintf(os.Stderr, "benchjson: %v\n", err)
		os.Exit(1)
	}
}

func run(in io.Reader, stdout io.Writer, outPath string) error {
	ms, err := parse(in)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if _, err := fmt.Fprintf(stdout, "%s %s %s\n", m.Name, strconv.FormatFloat(m.Value, 'f', -1, 64), m.Unit); err != nil {
			return err
		}
	}
	data, err := json.MarshalIndent(ms, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding results: %w", err)
	}
	if err := os.WriteFile(outPath, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing results: %w", err)
	}
	return nil
}

func parse(in io.Reader) ([]measurement, error) {
	ms := []measurement{}
	r := benchfmt.NewReader(in, "stdin")
	for r.Scan() {
		res, ok := r.Result().(*benchfmt.Result)
		if !ok {
			continue // unit metadata or a syntax error: not a measurement
		}
		for _, v := range res.Values {
			// Keep the unit the benchmark printed (ns/op, not sec/op).
			value, unit := v.Value, v.Unit
			if v.OrigUnit != "" {
				value, unit = v.OrigValue, v.OrigUnit
			}
			ms = append(ms, measurement{
				Package: res.GetConfig("pkg"),
				Name:    res.Name.String(),
				Value:   value,
				Unit:    unit,
			})
		}
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("reading benchmark output: %w", err)
	}
	return ms, nil
}
