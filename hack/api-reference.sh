#!/usr/bin/env bash
# Writes the custom resources' reference into a Markdown file (README.md) between
# the lines `<!-- api-reference:begin ... -->` and `<!-- api-reference:end -->`,
# rendered by crd-ref-docs from the doc comments and markers of api/ with the
# templates in hack/crd-ref-docs/. Everything outside the markers is kept.
# Usage: hack/api-reference.sh CRD_REF_DOCS [FILE]
set -euo pipefail
cd "$(dirname "$0")/.."

tool="${1:?usage: hack/api-reference.sh CRD_REF_DOCS [FILE]}"
file="${2:-README.md}"
begin='<!-- api-reference:begin'
end='<!-- api-reference:end -->'

if [[ "$(grep -c "^${begin}" "${file}")" != 1 || "$(grep -cxF "${end}" "${file}")" != 1 ]]; then
	echo "api-reference: ${file} needs one line starting with '${begin}' and one line '${end}'" >&2
	exit 1
fi
if (( $(grep -n "^${begin}" "${file}" | cut -d: -f1) > $(grep -nxF "${end}" "${file}" | cut -d: -f1) )); then
	echo "api-reference: in ${file}, '${end}' comes before '${begin}'" >&2
	exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

"${tool}" --source-path=./api --config=hack/crd-ref-docs/config.yaml \
	--templates-dir=hack/crd-ref-docs --renderer=markdown \
	--output-path="${work}/raw.md" --log-level=ERROR
# One blank line between blocks, none at either end.
cat -s "${work}/raw.md" | sed -e '/./,$!d' >"${work}/reference.md"
sed -i -e ':a' -e '/^\n*$/{$d;N;ba' -e '}' "${work}/reference.md"

awk -v begin="${begin}" -v end="${end}" -v ref="${work}/reference.md" '
	index($0, begin) == 1 {
		print; print ""
		while ((getline line < ref) > 0) print line
		print ""; skip = 1; next
	}
	$0 == end { skip = 0 }
	!skip
' "${file}" >"${work}/out.md"
cat "${work}/out.md" >"${file}"
