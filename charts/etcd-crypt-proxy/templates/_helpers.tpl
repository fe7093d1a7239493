{{/* Chart name, possibly overridden. */}}
{{- define "etcd-crypt-proxy.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Resource name prefix: release name + chart name, unless the release name already holds the chart name. */}}
{{- define "etcd-crypt-proxy.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "etcd-crypt-proxy.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "etcd-crypt-proxy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "etcd-crypt-proxy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "etcd-crypt-proxy.labels" -}}
helm.sh/chart: {{ include "etcd-crypt-proxy.chart" . }}
{{ include "etcd-crypt-proxy.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: etcd-proxy
{{- end }}

{{- define "etcd-crypt-proxy.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "etcd-crypt-proxy.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "etcd-crypt-proxy.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "etcd-crypt-proxy.kmsPluginImage" -}}
{{- $repo := default .Values.image.repository .Values.kmsPlugin.image.repository }}
{{- $tag := default (default .Chart.AppVersion .Values.image.tag) .Values.kmsPlugin.image.tag }}
{{- printf "%s:%s" $repo $tag }}
{{- end }}

{{- define "etcd-crypt-proxy.encryptionConfigSecret" -}}
{{- default (printf "%s-encryption-config" (include "etcd-crypt-proxy.fullname" .)) .Values.encryptionConfig.secretName }}
{{- end }}

{{- define "etcd-crypt-proxy.listenerTlsSecret" -}}
{{- default (printf "%s-listener-tls" (include "etcd-crypt-proxy.fullname" .)) .Values.tls.listener.secretName }}
{{- end }}

{{- define "etcd-crypt-proxy.upstreamTlsSecret" -}}
{{- default (printf "%s-etcd-client-tls" (include "etcd-crypt-proxy.fullname" .)) .Values.tls.upstream.secretName }}
{{- end }}

{{- define "etcd-crypt-proxy.metricsTlsSecret" -}}
{{- default (printf "%s-metrics-tls" (include "etcd-crypt-proxy.fullname" .)) .Values.metrics.tls.secretName }}
{{- end }}

{{/* The admin endpoint's scheme: https with metrics.tls.enabled. */}}
{{- define "etcd-crypt-proxy.metricsScheme" -}}
{{- if .Values.metrics.tls.enabled }}https{{ else }}http{{ end }}
{{- end }}

{{/* Values that only work together, refused with what to set. */}}
{{- define "etcd-crypt-proxy.checkMetricsTls" -}}
{{- if and .Values.metrics.tls.clientCASecretName (not .Values.metrics.tls.enabled) }}
{{- fail "metrics.tls.clientCASecretName needs metrics.tls.enabled: client certificates are only asked for over HTTPS" }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled .Values.metrics.tls.clientCASecretName (not .Values.metrics.serviceMonitor.tlsConfig.clientCertSecretName) }}
{{- fail "metrics.tls.clientCASecretName requires a client certificate for /metrics: set metrics.serviceMonitor.tlsConfig.clientCertSecretName to Prometheus' kubernetes.io/tls Secret" }}
{{- end }}
{{- end }}

{{- define "etcd-crypt-proxy.kmsKeysSecret" -}}
{{- default (printf "%s-kms-keys" (include "etcd-crypt-proxy.fullname" .)) .Values.kmsPlugin.keyFile.secretName }}
{{- end }}

{{/* The listen host: loopback in the host network (only the local kube-apiserver), every address in a pod network. */}}
{{- define "etcd-crypt-proxy.listenHost" -}}
{{- if .Values.proxy.listenHost }}
{{- .Values.proxy.listenHost }}
{{- else if .Values.hostNetwork }}
{{- "127.0.0.1" }}
{{- else }}
{{- "0.0.0.0" }}
{{- end }}
{{- end }}
