{{- /* One group version: each kind with its spec and status, then the types they use. */ -}}
{{- define "gvDetails" -}}
{{- $gv := . -}}
{{- range $gv.SortedKinds }}
{{- $kind := $gv.TypeForKind . }}
### {{ $kind.Name }}

{{ $kind.Doc }}

`apiVersion: {{ $gv.GroupVersionString }}`, `kind: {{ $kind.Name }}`
{{- range index $kind.Markers "kubebuilder:resource" }}, {{ if eq .Scope "Cluster" }}cluster-scoped{{ else }}namespaced{{ end }}
{{- with .ShortName }}, short name {{ range $i, $n := . }}{{ if $i }}, {{ end }}`{{ $n }}`{{ end }}{{ end }}{{ end }}.
{{- template "rules" $kind }}
{{ range $kind.Members }}{{ if or (eq .Name "spec") (eq .Name "status") }}
{{ template "type" .Type }}
{{- end }}{{ end }}
{{ end }}
### Types used by the resources
{{ range $gv.SortedTypes }}
{{- $partOfKind := false }}{{ range .References }}{{ if .GVK }}{{ $partOfKind = true }}{{ end }}{{ end }}
{{- if and (not .GVK) (not $partOfKind) (markdownShouldRenderType .) }}
{{ template "type" . }}
{{- end }}
{{- end }}
{{- end -}}
