#!/usr/bin/env bash
# Runs every Go fuzz target of the given packages (default: ./app/...) for
# FUZZTIME each (default 10s), one after the other. A plain `go test` already
# runs each target's seeds and its committed corpus in testdata/fuzz/; this
# searches for new inputs, and writes any that fail to testdata/fuzz/ to commit.
#
#   hack/fuzz.sh                        every target under app/
#   FUZZTIME=1m hack/fuzz.sh ./app/webhook
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime="${FUZZTIME:-10s}"
[ "$#" -gt 0 ] || set -- ./app/...
for pkg in $(go list "$@"); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "fuzzing $pkg $target for $fuzztime" >&2
		go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime"
	done
done
