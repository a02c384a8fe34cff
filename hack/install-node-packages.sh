#!/usr/bin/env bash
# Makes sure the node's OS-side pieces are present: runc (containerd's
# runtime; it needs cgo, so it is not built by hack/node-assets.sh), iptables
# (kube-proxy and the CNI plugins) and the CNI plugins under /usr/lib/cni.
# Installs the Debian packages runc, iptables and containernetworking-plugins
# that are missing.
set -euo pipefail

# Root's PATH has the sbin directories; another user's may not.
PATH="${PATH}:/usr/local/sbin:/usr/sbin:/sbin"

packages=()
command -v runc >/dev/null || packages+=(runc)
command -v iptables >/dev/null || packages+=(iptables)
for plugin in bridge host-local loopback portmap; do
	if [[ ! -x "/usr/lib/cni/${plugin}" ]]; then
		packages+=(containernetworking-plugins)
		break
	fi
done
if ((${#packages[@]} == 0)); then
	exit 0
fi

echo "install-node-packages: ${packages[*]} not found; installing the Debian packages" >&2
if ! command -v apt-get >/dev/null; then
	echo "install-node-packages: no apt-get here: install ${packages[*]} with your package manager (the CNI plugins bridge, host-local, loopback and portmap into /usr/lib/cni)" >&2
	exit 1
fi
sudo=""
if [[ "$(id -u)" != 0 ]]; then
	sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
${sudo} apt-get update -q
${sudo} apt-get install -y -q --no-install-recommends "${packages[@]}"
