#!/usr/bin/env bash
# Makes sure a Chromium browser is present; the admin pages' browser test
# drives it headless. Installs Debian's chromium package when neither
# REKOMI_CHROMIUM names an executable nor `chromium` is on the PATH.
set -euo pipefail

if [[ -n "${REKOMI_CHROMIUM:-}" ]]; then
	if [[ -x "${REKOMI_CHROMIUM}" ]]; then
		exit 0
	fi
	echo "install-chromium: REKOMI_CHROMIUM=${REKOMI_CHROMIUM} is not an executable file" >&2
	exit 1
fi
if command -v chromium >/dev/null; then
	exit 0
fi

echo "install-chromium: chromium not found on the PATH; installing the chromium package" >&2
if ! command -v apt-get >/dev/null; then
	echo "install-chromium: no apt-get here: install Chromium with your package manager, or set REKOMI_CHROMIUM to its executable" >&2
	exit 1
fi
sudo=""
if [[ "$(id -u)" != 0 ]]; then
	sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
${sudo} apt-get update -q
${sudo} apt-get install -y -q --no-install-recommends chromium
