#!/bin/sh
# The compose demo's client: writes through the proxy, shows the raw etcd value, reads back through the proxy.
# PROXY and ETCD are the two endpoints (set by docker-compose.yml).
set -eu
PROXY=${PROXY:-http://proxy:23790}
ETCD=${ETCD:-http://etcd:2379}
SECRET=/registry/secrets/default/demo-secret
CONFIGMAP=/registry/configmaps/default/demo-config

# The proxy refuses writes of encrypted resources until its KMS plugin answers (fail closed): retry a while.
echo "== writing $SECRET through the proxy ($PROXY)"
tries=0
until etcdctl --endpoints="$PROXY" put "$SECRET" 'password=hunter2 (written by the demo client)'; do
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then
    echo "the proxy did not accept the write after 60 attempts; see: docker compose logs proxy kms-plugin" >&2
    exit 1
  fi
  sleep 2
done
echo "== writing $CONFIGMAP through the proxy"
etcdctl --endpoints="$PROXY" put "$CONFIGMAP" 'color=blue (written by the demo client)'

echo
echo "== what etcd itself stores ($ETCD): ciphertext behind a k8s:enc:<provider>:... prefix"
etcdctl --endpoints="$ETCD" get "$SECRET" -w fields | grep -E '^"(Key|Value)"'
etcdctl --endpoints="$ETCD" get "$CONFIGMAP" -w fields | grep -E '^"(Key|Value)"'

echo
echo "== the same keys read through the proxy: plain text again"
etcdctl --endpoints="$PROXY" get "$SECRET" --print-value-only
etcdctl --endpoints="$PROXY" get "$CONFIGMAP" --print-value-only

echo
echo "== where to look"
echo "  the proxy's metrics:  http://localhost:23791/metrics   (readiness: http://localhost:23791/readyz?verbose)"
echo "  Prometheus:           http://localhost:9090 (alerts: http://localhost:9090/alerts)"
echo "  Grafana:              http://localhost:3000 (dashboard etcd-crypt-proxy)"
echo "  DEK cache hit ratio in PromQL:"
echo '    sum(rate(etcd_crypt_proxy_dek_cache_hits_total[5m])) / (sum(rate(etcd_crypt_proxy_dek_cache_hits_total[5m])) + sum(rate(etcd_crypt_proxy_dek_cache_misses_total[5m])))'
