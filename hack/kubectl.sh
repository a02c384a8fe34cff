#!/usr/bin/env bash
# Prints the path of a kubectl: $KUBECTL when set, else the one on PATH, else one
# built once from the Go module proxy at the control plane's version and cached
# beside kube-apiserver (see envtest-assets.sh; a few minutes the first time).
set -euo pipefail

if [[ -n "${KUBECTL:-}" ]]; then
	echo "${KUBECTL}"
	exit 0
fi
if command -v kubectl; then
	exit 0
fi
assets="$("$(dirname "${BASH_SOURCE[0]}")/envtest-assets.sh" kubectl)"
echo "${assets}/kubectl"
