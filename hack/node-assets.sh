#!/usr/bin/env bash
# Builds the node binaries of a one-node cluster from the Go module proxy and
# caches them outside the work tree, keyed by version: kubelet,
# kube-controller-manager, kube-scheduler and kube-proxy of the control
# plane's Kubernetes release (the one hack/envtest-assets.sh builds
# kube-apiserver of), and containerd, containerd-shim-runc-v2 and ctr.
# Prints the assets directory on stdout; progress goes to stderr.
#
# The Kubernetes binaries come from one wrapper module, so the packages they
# share compile once. runc, iptables and the CNI plugins are not built here:
# they come from the OS (hack/install-node-packages.sh).
#
# The first build takes several minutes on a small machine (it says where it
# is every 20 seconds, through hack/progress.sh); later runs find the cached
# binaries and return at once.
set -euo pipefail

if (($# > 0)); then
	printf 'node-assets: unexpected argument %s (none is accepted)\n' "$1" >&2
	exit 2
fi

K8S_VERSION="${K8S_VERSION:-1.37.2}"
CONTAINERD_VERSION="${CONTAINERD_VERSION:-2.4.2}"
CACHE_ROOT="${REKOMI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rekomi}"
ASSETS="${CACHE_ROOT}/node/k8s-${K8S_VERSION}-containerd-${CONTAINERD_VERSION}"
GO="${GO:-go}"
hack="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
progress="${hack}/progress.sh"
# shellcheck source=hack/lib/k8s-wrapper.sh
source "${hack}/lib/k8s-wrapper.sh"

kubernetes=(kubelet kube-controller-manager kube-scheduler kube-proxy)
containerd=(containerd containerd-shim-runc-v2 ctr)

# Usual seconds on an idle 2-core machine with an empty build cache, in the
# order they are built: a later binary reuses the packages an earlier one of
# its module compiled.
declare -A expected=(
	[kubelet]=380 [kube-controller-manager]=110 [kube-scheduler]=10 [kube-proxy]=10
	[containerd]=50 [containerd-shim-runc-v2]=5 [ctr]=5
)

log() { printf 'node-assets: %s\n' "$*" >&2; }

# duration prints a number of seconds as progress.sh takes it: 1m30s, or 40s.
duration() {
	local s="$1"
	if ((s < 60)); then
		printf '%ds' "${s}"
	elif ((s % 60 == 0)); then
		printf '%dm' $((s / 60))
	else
		printf '%dm%02ds' $((s / 60)) $((s % 60))
	fi
}

# expected_sum prints the usual duration of building all its arguments.
expected_sum() {
	local c s=0
	for c in "$@"; do
		s=$((s + expected[${c}]))
	done
	duration "${s}"
}

# missing prints the names among its arguments with no binary in the assets directory.
missing() {
	local c
	for c in "$@"; do
		[[ -x "${ASSETS}/${c}" ]] || echo "${c}"
	done
}

if [[ -z "$(missing "${kubernetes[@]}" "${containerd[@]}")" ]]; then
	echo "${ASSETS}"
	exit 0
fi

begin_build "${kubernetes[*]} v${K8S_VERSION} and ${containerd[*]} v${CONTAINERD_VERSION}"

# build NAME PACKAGE LDFLAGS [GO BUILD FLAG...] builds PACKAGE, in the
# current directory's module, into the assets directory as NAME.
build() {
	local name="$1" pkg="$2" ldflags="$3"
	shift 3
	"${progress}" --go-build "compiling ${name}" "$(duration "${expected[${name}]}")" -- \
		"${GO}" build -trimpath "$@" -ldflags="${ldflags}" -o "${ASSETS}/${name}.tmp" "${pkg}"
	mv "${ASSETS}/${name}.tmp" "${ASSETS}/${name}"
}

build_kubernetes() {
	local names
	mapfile -t names < <(missing "${kubernetes[@]}")
	((${#names[@]} > 0)) || return 0
	local dir="${work}/kubernetes" c
	log "building ${names[*]} v${K8S_VERSION} (once; usually about $(expected_sum "${names[@]}") in all on 2 cores)"
	k8s_wrapper_module "${dir}" rekomi.local/node-kubernetes "${names[@]}"
	(cd "${dir}" && "${progress}" "downloading the modules of ${names[*]}" 1m -- "${GO}" mod tidy >&2)
	for c in "${names[@]}"; do
		(cd "${dir}" && build "${c}" "k8s.io/kubernetes/cmd/${c}" "$(k8s_version_ldflags)")
	done
}

build_containerd() {
	local names
	mapfile -t names < <(missing "${containerd[@]}")
	((${#names[@]} > 0)) || return 0
	local dir="${work}/containerd" c
	local module="github.com/containerd/containerd/v2"
	mkdir -p "${dir}"
	log "building ${names[*]} v${CONTAINERD_VERSION} (once; usually about $(expected_sum "${names[@]}") in all on 2 cores)"
	cat >"${dir}/go.mod" <<GOMOD
module rekomi.local/node-containerd

go 1.26

require ${module} v${CONTAINERD_VERSION}
GOMOD
	{
		printf '//go:build tools\n\npackage tools\n\n'
		for c in "${names[@]}"; do
			printf 'import _ "%s/cmd/%s"\n' "${module}" "${c}"
		done
	} >"${dir}/tools.go"
	(cd "${dir}" && "${progress}" "downloading the modules of containerd" 30s -- "${GO}" mod tidy >&2)
	# Without cgo, and so without the snapshotters that need it; the release
	# build sets the version the same way.
	local ldflags="-X ${module}/version.Version=v${CONTAINERD_VERSION} -X ${module}/version.Package=${module}"
	for c in "${names[@]}"; do
		(cd "${dir}" && build "${c}" "${module}/cmd/${c}" "${ldflags}" -tags "no_btrfs no_devmapper no_zfs no_aufs")
	done
}

build_kubernetes
build_containerd
log "assets ready in ${ASSETS}"
echo "${ASSETS}"
