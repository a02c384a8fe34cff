#!/usr/bin/env bash
# Builds stripe-mock (github.com/stripe/stripe-mock, a local Stripe API server
# that validates requests against Stripe's OpenAPI description) from the Go
# module proxy and caches it outside the work tree, keyed by version.
# Prints the binary's path on stdout; progress goes to stderr.
#
# The tests of app/payout and app/server run this script themselves (unless
# REKOMI_STRIPE_MOCK names a binary), so `make test` on a fresh machine builds
# stripe-mock once, the first time; later runs find the cached binary and
# return at once.
set -euo pipefail

STRIPE_MOCK_VERSION="${STRIPE_MOCK_VERSION:-0.203.0}"
CACHE_ROOT="${REKOMI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rekomi}"
DIR="${CACHE_ROOT}/stripe-mock/${STRIPE_MOCK_VERSION}"
BIN="${DIR}/stripe-mock"
GO="${GO:-go}"
progress="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/progress.sh"

log() { printf 'stripe-mock: %s\n' "$*" >&2; }

if [[ -x "${BIN}" ]]; then
	echo "${BIN}"
	exit 0
fi

mkdir -p "${DIR}"
work="$(mktemp -d "${DIR}/build.XXXXXX")"
trap 'rm -rf "${work}"' EXIT

log "building stripe-mock v${STRIPE_MOCK_VERSION} (once; usually about 1 minute on 2 cores)"
CGO_ENABLED=0 GOBIN="${work}" GOFLAGS="-mod=mod" "${progress}" --go-build "building stripe-mock" 1m -- \
	"${GO}" install -trimpath "github.com/stripe/stripe-mock@v${STRIPE_MOCK_VERSION}" >&2
mv "${work}/stripe-mock" "${BIN}"
log "stripe-mock ready at ${BIN}"
echo "${BIN}"
