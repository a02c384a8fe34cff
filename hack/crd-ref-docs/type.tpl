{{- /* One type: its doc, and its fields as a table or its allowed values as a list. */ -}}
{{- define "type" -}}
#### {{ .Name }}

{{ .Doc }}
{{- template "rules" . }}
{{ if .EnumValues }}
{{- range .EnumValues }}
- {{ regexReplaceAll "^[A-Za-z0-9_]+" .Doc (printf "`%s`" .Name) | replace "\n" " " | trim }}
{{- end }}
{{ else if .Members }}
| Field | Type | Required | Default | Validation | Description |
| --- | --- | --- | --- | --- | --- |
{{- range .Members }}
| `{{ .Name }}` | {{ markdownRenderType .Type }} | {{ if or (index .Markers "required") (index .Markers "k8s:required") (index .Markers "kubebuilder:validation:Required") }}yes{{ else }}no{{ end }} | {{ with .Default }}`{{ regexReplaceAll "\\{\\s+\\}" . "{}" }}`{{ end }} | {{ template "validation" . }} | {{ template "cell" .Doc }} |
{{- end }}
{{ end -}}
{{- end -}}

{{- /* A field's validation: the schema's bounds and patterns, then the messages of its CEL rules. */ -}}
{{- define "validation" -}}
{{- $items := list -}}
{{- range .Validation }}{{ if not (regexMatch "^(Required|Optional):" .) }}{{ $items = append $items . }}{{ end }}{{ end -}}
{{- range index .Markers "kubebuilder:validation:XValidation" }}{{ $items = append $items (.Message | replace "<" "&lt;" | replace ">" "&gt;") }}{{ end -}}
{{- join "<br>" $items | replace "|" "\\|" -}}
{{- end -}}

{{- /* A doc comment in a table cell: lines joined, paragraphs kept, pipes escaped. */ -}}
{{- define "cell" -}}
{{- $paragraphs := list -}}
{{- range splitList "\n\n" . }}{{ $paragraphs = append $paragraphs (replace "\n" " " . | trim) }}{{ end -}}
{{- join "<br><br>" $paragraphs | replace "|" "\\|" -}}
{{- end -}}

{{- /* The messages of a type's CEL rules, as a sentence after its doc. */ -}}
{{- define "rules" -}}
{{- with index .Markers "kubebuilder:validation:XValidation" }}

Validation: {{ range $i, $v := . }}{{ if $i }}; {{ end }}{{ $v.Message | replace "<" "&lt;" | replace ">" "&gt;" }}{{ end }}.
{{- end -}}
{{- end -}}

