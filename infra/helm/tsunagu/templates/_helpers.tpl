{{/* Names ------------------------------------------------------------------------------- */}}

{{- define "tsunagu.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Leaves room for the "-notifications" suffix within 63 characters. */}}
{{- define "tsunagu.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 49 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 49 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 49 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "tsunagu.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tsunagu.labels" -}}
helm.sh/chart: {{ include "tsunagu.chart" . }}
app.kubernetes.io/name: {{ include "tsunagu.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tsunagu
{{- end -}}

{{/* Selector labels of one service: (dict "root" $ "service" "registry") */}}
{{- define "tsunagu.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tsunagu.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .service }}
{{- end -}}

{{/* Selector of every Tsunagu pod of the release. */}}
{{- define "tsunagu.releaseSelectorLabels" -}}
app.kubernetes.io/name: {{ include "tsunagu.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The four services, in start order, with what the code fixes for each:
     the port, the env prefix and the grpc.health.v1 name (GRPC_SERVICE_NAME in each crate). */}}
{{- define "tsunagu.services" -}}
registry:
  port: 50051
  env: TSUNAGU_REGISTRY
  health: tsunagu.registry.v1.RegistryService
intake:
  port: 50052
  env: TSUNAGU_INTAKE
  health: tsunagu.intake.v1.IntakeService
matching:
  port: 50053
  env: TSUNAGU_MATCHING
  health: tsunagu.matching.v1.MatchingService
notifications:
  port: 50054
  env: TSUNAGU_NOTIFICATIONS
  health: tsunagu.notifications.v1.NotificationsService
{{- end -}}

{{- define "tsunagu.serviceOrder" -}}
registry intake matching notifications
{{- end -}}

{{- define "tsunagu.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "tsunagu.secretName" -}}
{{- if .Values.secrets.existingSecret -}}
{{- .Values.secrets.existingSecret -}}
{{- else -}}
{{- printf "%s-secrets" (include "tsunagu.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "tsunagu.tlsSecretName" -}}
{{- if .Values.tls.certManager.create -}}
{{- printf "%s-tls" (include "tsunagu.fullname" .) -}}
{{- else -}}
{{- .Values.tls.secretName -}}
{{- end -}}
{{- end -}}

{{- define "tsunagu.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tsunagu.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Where the other services reach the registry (TSUNAGU_REGISTRY_URL). */}}
{{- define "tsunagu.registryUrl" -}}
{{- printf "%s://%s-registry:50051" (ternary "https" "http" .Values.tls.enabled) (include "tsunagu.fullname" .) -}}
{{- end -}}

{{/* "true" when the service is stopped: (dict "root" $ "service" "matching") */}}
{{- define "tsunagu.stopped" -}}
{{- $svc := index .root.Values.services .service -}}
{{- if or .root.Values.stopped $svc.stopped -}}true{{- end -}}
{{- end -}}

{{/* How the replica count is managed: "fixed", "hpa" or "keda". */}}
{{- define "tsunagu.scaling" -}}
{{- $svc := index .root.Values.services .service -}}
{{- if eq .service "matching" -}}
{{- if eq $svc.autoscaling.mode "keda" -}}keda{{- else if eq $svc.autoscaling.mode "hpa" -}}hpa{{- else -}}fixed{{- end -}}
{{- else if $svc.autoscaling.enabled -}}hpa{{- else -}}fixed{{- end -}}
{{- end -}}

{{/* The partition count as an integer. */}}
{{- define "tsunagu.partitions" -}}
{{- index .Values.config "TSUNAGU_MATCHING_PARTITIONS" | default "16" | toString | atoi -}}
{{- end -}}
