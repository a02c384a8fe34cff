#!/usr/bin/env bash
# Makes sure the OS's PostgreSQL server binaries (initdb, postgres) are present;
# the tests and `rekomi dev` start throwaway servers from them. Installs
# Debian's postgresql package when they are missing.
set -euo pipefail

if compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
	exit 0
fi
if [[ -n "${REKOMI_TEST_DATABASE_URL:-}" ]]; then
	exit 0
fi

echo "install-postgres: PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; installing the postgresql package" >&2
if ! command -v apt-get >/dev/null; then
	echo "install-postgres: no apt-get here: install the PostgreSQL server (initdb, postgres) with your package manager, or set REKOMI_TEST_DATABASE_URL to a server you run" >&2
	exit 1
fi
sudo=""
if [[ "$(id -u)" != 0 ]]; then
	sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
${sudo} apt-get update -q
${sudo} apt-get install -y -q --no-install-recommends postgresql
