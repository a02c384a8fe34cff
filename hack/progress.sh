#!/usr/bin/env bash
# Runs a long step and says where it is while it runs:
#
#   hack/progress.sh [--go-build] STEP EXPECTED -- COMMAND [ARG...]
#
# Every PROGRESS_INTERVAL seconds (default 20) it prints, on stderr,
#   STEP: 3m20s elapsed, about 9m in all on 2 cores; 812 packages compiled so far
# and, once COMMAND ends, how long it took. EXPECTED is the usual duration
# on an idle 2-core machine, as go's duration syntax without the go
# (9m, 40s, 1m30s). With --go-build, COMMAND is a `go build` or `go
# install` that gets -v, whose package lines are counted rather than
# shown. A step that ends before the first interval prints nothing.
# Exits with COMMAND's status.
set -euo pipefail

go_build=false
if [[ "${1:-}" == --go-build ]]; then
	go_build=true
	shift
fi
if (($# < 4)) || [[ "$3" != -- ]]; then
	echo "usage: hack/progress.sh [--go-build] STEP EXPECTED -- COMMAND [ARG...]" >&2
	exit 2
fi
step="$1" expected="$2"
shift 3
interval="${PROGRESS_INTERVAL:-20}"

# duration prints a number of seconds as 1m05s, or 40s under a minute.
duration() {
	local s="$1"
	if ((s < 60)); then
		printf '%ds' "${s}"
	else
		printf '%dm%02ds' $((s / 60)) $((s % 60))
	fi
}

cores="$(nproc 2>/dev/null || echo '?')"
counted="$(mktemp)"
ticks="$(mktemp)"
began="${SECONDS}"
ticker=""
cleanup() {
	if [[ -n "${ticker}" ]]; then
		kill "${ticker}" 2>/dev/null || true
		wait "${ticker}" 2>/dev/null || true
	fi
	rm -f "${counted}" "${ticks}"
}
trap cleanup EXIT

(
	# The nap must not outlive the ticker, nor hold the caller's output open.
	nap=""
	trap 'kill "${nap}" 2>/dev/null; exit 0' TERM
	while :; do
		sleep "${interval}" </dev/null >/dev/null 2>&1 &
		nap=$!
		wait "${nap}"
		line="${step}: $(duration $((SECONDS - began))) elapsed, usually about ${expected} in all on 2 cores (${cores} here)"
		if [[ "${go_build}" == true ]]; then
			line+="; $(wc -l <"${counted}") packages compiled so far"
		fi
		printf '%s\n' "${line}" >&2
		echo >>"${ticks}"
	done
) &
ticker=$!

# count_packages shows what `go build -v` writes to stderr but the lines
# naming a package it compiled, a bare import path each, which it counts.
count_packages() {
	local l
	while IFS= read -r l; do
		if [[ "${l}" =~ ^[A-Za-z0-9._~/+-]+$ ]]; then
			echo >>"${counted}"
		else
			printf '%s\n' "${l}" >&2
		fi
	done
}

status=0
if [[ "${go_build}" == true ]]; then
	{ "$1" "$2" -v "${@:3}" 2>&1 1>&3 3>&- | count_packages; } 3>&1 || status=$?
else
	"$@" || status=$?
fi

kill "${ticker}" 2>/dev/null || true
wait "${ticker}" 2>/dev/null || true
ticker=""
if [[ -s "${ticks}" ]]; then
	if ((status == 0)); then
		printf '%s: done in %s\n' "${step}" "$(duration $((SECONDS - began)))" >&2
	else
		printf '%s: failed after %s\n' "${step}" "$(duration $((SECONDS - began)))" >&2
	fi
fi
exit "${status}"
