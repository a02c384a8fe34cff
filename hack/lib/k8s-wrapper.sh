# shellcheck shell=bash
# Sourced by the scripts that build Kubernetes binaries from the Go module
# proxy (hack/envtest-assets.sh, hack/node-assets.sh). Needs GO and
# K8S_VERSION set; defines functions only.

# k8s_wrapper_module DIR MODULE COMMAND... writes into DIR a module named
# MODULE that requires k8s.io/kubernetes v${K8S_VERSION} and imports
# k8s.io/kubernetes/cmd/COMMAND for each COMMAND, ready for `go mod tidy`
# and `go build k8s.io/kubernetes/cmd/COMMAND`. Commands built from one
# such module share the versions, and so the build cache, of every package.
k8s_wrapper_module() {
	local dir="$1" module="$2"
	shift 2
	mkdir -p "${dir}"
	# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them
	# with local paths, which a consumer does not inherit: pin each one to the
	# published staging release of the same minor.
	local staging_minor="0.${K8S_VERSION#1.}"
	local json gomod
	# On failure go writes the reason into the JSON, not to stderr.
	if ! json="$(cd "${dir}" && "${GO}" mod download -json "k8s.io/kubernetes@v${K8S_VERSION}")"; then
		printf '%b\n' "$(sed -n 's/.*"Error": "\(.*\)".*/\1/p' <<<"${json}")" >&2
	fi
	gomod="$(sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' <<<"${json}")"
	if [[ ! -f "${gomod}" ]]; then
		printf '%s: cannot read go.mod of k8s.io/kubernetes v%s\n' "$(basename "$0" .sh)" "${K8S_VERSION}" >&2
		return 1
	fi
	{
		echo "module ${module}"
		echo
		echo "go $(sed -n 's/^go \([0-9.]*\).*/\1/p' "${gomod}")"
		echo
		echo "require k8s.io/kubernetes v${K8S_VERSION}"
		echo
		sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#replace \1 => \1 v'"${staging_minor}"'#p' "${gomod}"
	} >"${dir}/go.mod"
	{
		echo "//go:build tools"
		echo
		echo "package tools"
		echo
		local c
		for c in "$@"; do
			echo "import _ \"k8s.io/kubernetes/cmd/${c}\""
		done
	} >"${dir}/tools.go"
}

# k8s_version_ldflags prints the -X flags that make a binary report
# v${K8S_VERSION} (`--version`, and the kubelet's version in its Node's
# status) rather than v0.0.0-master, as the release build does.
k8s_version_ldflags() {
	local v="k8s.io/component-base/version"
	local minor="${K8S_VERSION#*.}"
	minor="${minor%%.*}"
	printf -- '-X %s.gitVersion=v%s -X %s.gitMajor=%s -X %s.gitMinor=%s -X %s.gitTreeState=clean' \
		"${v}" "${K8S_VERSION}" "${v}" "${K8S_VERSION%%.*}" "${v}" "${minor}" "${v}"
}

# begin_build WHAT makes ${ASSETS} and a scratch directory ${work} under
# ${CACHE_ROOT}, removed when the script exits, and sets the Go environment
# of a static build from the module proxy. If the script then fails (not
# when it is interrupted), it logs that WHAT is built from source fetched
# through the proxy and how to get past it. Needs ASSETS, CACHE_ROOT, GO
# and a log function.
begin_build() {
	build_what="$1"
	mkdir -p "${ASSETS}"
	work="$(mktemp -d "${CACHE_ROOT}/build.XXXXXX")"
	trap end_build EXIT
	export GOFLAGS="-mod=mod"
	export CGO_ENABLED=0
}

# end_build is begin_build's exit trap.
end_build() {
	local rc=$?
	rm -rf "${work}"
	if ((rc != 0 && rc < 128)); then # not when interrupted
		log "FAILED: ${build_what} are built from source fetched through the Go module proxy (GOPROXY=$("${GO}" env GOPROXY)); check that it answers (the error above says what failed), or put binaries of those versions with those names into ${ASSETS}"
	fi
}
