#!/usr/bin/env bash
# Renders a kustomize directory with the manager image set to IMG, without
# editing any tracked file. Usage: hack/render.sh DIR IMG
set -euo pipefail

dir="$(cd "${1:?usage: hack/render.sh DIR IMG}" && pwd)"
img="${2:?usage: hack/render.sh DIR IMG}"
# IMG may be name, name:tag or name@sha256:digest; a ':' inside the registry
# host (host:port/name) is not a tag.
if [[ "${img}" == *@* ]]; then
	ref="  newName: ${img%@*}
  digest: ${img#*@}"
elif [[ "${img##*/}" == *:* ]]; then
	ref="  newName: ${img%:*}
  newTag: ${img##*:}"
else
	ref="  newName: ${img}
  newTag: latest"
fi

overlay="$(mktemp -d)"
trap 'rm -rf "${overlay}"' EXIT
# kustomize takes a base only as a relative path.
base="$(realpath --relative-to="${overlay}" "${dir}")"
cat >"${overlay}/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ${base}
images:
- name: rekomi
${ref}
patches:
- patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: rekomi-manager
      namespace: rekomi-system
    spec:
      template:
        spec:
          containers:
          - name: manager
            env:
            - name: REKOMI_APP_IMAGE
              value: ${img}
YAML
kubectl kustomize "${overlay}"
