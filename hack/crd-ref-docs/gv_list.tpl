{{- /* The whole reference: every group version, one after the other. */ -}}
{{- define "gvList" -}}
{{- range . }}{{ template "gvDetails" . }}{{ end -}}
{{- end -}}
