#!/usr/bin/env bash
# Installs Redocly CLI (the OpenAPI linter), at the version pinned by
# hack/redocly/package-lock.json, from the npm registry with the machine's
# Node.js and npm, and caches it outside the work tree, keyed by that lock
# file. Prints the path of the redocly executable on stdout; progress goes
# to stderr. TestOpenAPILint (app/server) runs it unless REKOMI_REDOCLY
# names an executable.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="${here}/redocly"
CACHE_ROOT="${REKOMI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rekomi}"
lock_sum="$(sha256sum "${src}/package-lock.json" | cut -c1-16)"
DIR="${CACHE_ROOT}/redocly/${lock_sum}"
BIN="${DIR}/node_modules/.bin/redocly"

log() { printf 'redocly: %s\n' "$*" >&2; }

if [[ -x "${BIN}" ]]; then
	echo "${BIN}"
	exit 0
fi

# Redocly CLI 2 runs on Node.js 20.19 or later.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	log "Node.js and npm are needed to install Redocly CLI: install Node.js 20.19 or later (with npm), or set REKOMI_REDOCLY to a redocly executable"
	exit 1
fi
node_version="$(node --version)"
IFS=. read -r major minor _ <<<"${node_version#v}"
if ((major < 20 || (major == 20 && minor < 19))); then
	log "Node.js ${node_version} is too old for Redocly CLI: install Node.js 20.19 or later, or set REKOMI_REDOCLY to a redocly executable"
	exit 1
fi

mkdir -p "${CACHE_ROOT}/redocly"
work="$(mktemp -d "${CACHE_ROOT}/redocly/install.XXXXXX")"
trap 'rm -rf "${work}"' EXIT
cp "${src}/package.json" "${src}/package-lock.json" "${src}/.npmrc" "${work}/"
log "installing Redocly CLI $(sed -n 's/.*"@redocly\/cli": "\(.*\)".*/\1/p' "${src}/package.json") with npm ci"
(cd "${work}" && npm ci --ignore-scripts --no-audit --no-fund >&2)
# Another run may have installed it meanwhile; the first one to finish wins.
if ! mv -T "${work}" "${DIR}" 2>/dev/null; then
	[[ -x "${BIN}" ]] || { log "cannot move the installation into ${DIR}"; exit 1; }
fi
trap - EXIT
rm -rf "${work}"
log "Redocly CLI ready at ${BIN}"
echo "${BIN}"
