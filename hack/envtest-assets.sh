#!/usr/bin/env bash
# Builds the control-plane binaries that envtest needs (kube-apiserver and etcd)
# from the Go module proxy and caches them outside the work tree, keyed by version.
# With the argument `kubectl`, also builds a kubectl of the same version into the
# same directory (hack/kubectl.sh asks for it when no kubectl is on PATH).
# Prints the assets directory (for KUBEBUILDER_ASSETS) on stdout; progress goes to stderr.
#
# The first build takes several minutes on a small machine (it says where it
# is every 20 seconds, through hack/progress.sh); later runs find the cached
# binaries and return at once.
set -euo pipefail

commands=(kube-apiserver etcd)
for arg in "$@"; do
	case "${arg}" in
	kubectl) commands+=(kubectl) ;;
	*) printf 'envtest-assets: unknown argument %s (only kubectl is accepted)\n' "${arg}" >&2; exit 2 ;;
	esac
done

K8S_VERSION="${K8S_VERSION:-1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-3.6.16}"
CACHE_ROOT="${REKOMI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rekomi}"
ASSETS="${CACHE_ROOT}/envtest/k8s-${K8S_VERSION}-etcd-${ETCD_VERSION}"
GO="${GO:-go}"
hack="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
progress="${hack}/progress.sh"
# shellcheck source=hack/lib/k8s-wrapper.sh
source "${hack}/lib/k8s-wrapper.sh"

# Usual durations on an idle 2-core machine with an empty build cache.
declare -A expected=([kube-apiserver]=4m [kubectl]=1m30s [etcd]=40s)

log() { printf 'envtest-assets: %s\n' "$*" >&2; }

cached() {
	local c
	for c in "${commands[@]}"; do
		[[ -x "${ASSETS}/${c}" ]] || return 1
	done
}

if cached; then
	echo "${ASSETS}"
	exit 0
fi

begin_build "kube-apiserver v${K8S_VERSION} and etcd v${ETCD_VERSION}"

# build_kubernetes builds k8s.io/kubernetes/cmd/<name> into the assets directory.
build_kubernetes() {
	local name="$1"
	local dir="${work}/${name}"
	log "building ${name} v${K8S_VERSION} (once; usually about ${expected[${name}]} on 2 cores)"
	k8s_wrapper_module "${dir}" rekomi.local/envtest-apiserver "${name}"
	(cd "${dir}" && "${progress}" "downloading the modules of ${name}" 1m -- "${GO}" mod tidy >&2)
	(cd "${dir}" && "${progress}" --go-build "compiling ${name}" "${expected[${name}]}" -- \
		"${GO}" build -trimpath -o "${ASSETS}/${name}.tmp" "k8s.io/kubernetes/cmd/${name}")
	mv "${ASSETS}/${name}.tmp" "${ASSETS}/${name}"
}

build_etcd() {
	local dir="${work}/etcd"
	mkdir -p "${dir}"
	log "building etcd v${ETCD_VERSION} (once; usually about ${expected[etcd]} on 2 cores)"
	cat >"${dir}/go.mod" <<GOMOD
module rekomi.local/envtest-etcd

go 1.24

require go.etcd.io/etcd/server/v3 v${ETCD_VERSION}
GOMOD
	cat >"${dir}/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
	(cd "${dir}" && "${progress}" "downloading the modules of etcd" 30s -- "${GO}" mod tidy >&2)
	(cd "${dir}" && "${progress}" --go-build "compiling etcd" "${expected[etcd]}" -- "${GO}" build -trimpath -o "${ASSETS}/etcd.tmp" .)
	mv "${ASSETS}/etcd.tmp" "${ASSETS}/etcd"
}

[[ -x "${ASSETS}/etcd" ]] || build_etcd
for c in "${commands[@]}"; do
	if [[ "${c}" != etcd && ! -x "${ASSETS}/${c}" ]]; then
		build_kubernetes "${c}"
	fi
done
log "assets ready in ${ASSETS}"
echo "${ASSETS}"
