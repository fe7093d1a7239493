#!/usr/bin/env bash
# A local demo on a fresh Debian or Ubuntu machine with Java 17 and Maven: etcd, the bundled KMS plugin and
# etcd-crypt-proxy on loopback. It writes a Secret through the proxy, then reads the same key raw from etcd
# (ciphertext) and through the proxy (plaintext).
#
#   scripts/demo.sh          run the demo, then stop everything
#   scripts/demo.sh --keep   leave etcd, the plugin and the proxy running (Ctrl-C stops them)
#
# Everything lives in ./demo-data (DEMO_DIR to change it): the encryption configuration, the KMS key file,
# data and logs. Ports: etcd 12379, proxy 23790, proxy admin/metrics 23791 (override with the
# ETCD_PORT, PROXY_PORT and ADMIN_PORT variables).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/require.sh
require_java17
require_maven
root=$PWD
keep=false
[ "${1:-}" = "--keep" ] && keep=true

demo=${DEMO_DIR:-$root/demo-data}
etcd_port=${ETCD_PORT:-12379}
peer_port=$((etcd_port + 1))
proxy_port=${PROXY_PORT:-23790}
admin_port=${ADMIN_PORT:-23791}
jar=$root/target/etcd-crypt-proxy.jar

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

missing=()
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ ! -f "$jar" ] || [ -n "$(find src pom.xml -newer "$jar" -print -quit)" ]; then
  say "building $jar"
  mvn -q -B -ntp -DskipTests package
fi

mkdir -p "$demo"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

say "starting etcd on 127.0.0.1:$etcd_port"
etcd --name demo --data-dir "$demo/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-cluster "demo=http://127.0.0.1:$peer_port" --logger zap --log-level warn >"$demo/etcd.log" 2>&1 &
pids+=($!)

# The bundled KMS plugin with a local key file of key-encryption keys (made on first run, never committed).
if [ ! -s "$demo/keks" ]; then
  java -jar "$jar" kms-plugin generate-key --key-file "$demo/keks" >/dev/null
fi
say "starting the KMS plugin on unix://$demo/kms.sock"
rm -f "$demo/kms.sock"
java -jar "$jar" kms-plugin --listen "unix://$demo/kms.sock" --key-file "$demo/keks" >"$demo/kms-plugin.log" 2>&1 &
pids+=($!)

# The example configuration (config/encryption-config.yaml, the file the compose demo mounts): Secrets through
# KMS v2 with the bundled plugin, ConfigMaps with a demo-only secretbox key, identity last. Only the plugin's
# socket moves into the demo directory.
sed "s#unix:///var/run/kmsplugin/socket.sock#unix://$demo/kms.sock#" config/encryption-config.yaml \
  >"$demo/encryption-config.yaml"
java -jar "$jar" check-config "$demo/encryption-config.yaml"

say "starting etcd-crypt-proxy on 127.0.0.1:$proxy_port (admin on 127.0.0.1:$admin_port)"
java -jar "$jar" serve --listen-addr "127.0.0.1:$proxy_port" --endpoints "127.0.0.1:$etcd_port" \
  --encryption-provider-config "$demo/encryption-config.yaml" --metrics-addr "127.0.0.1:$admin_port" \
  >"$demo/proxy.log" 2>&1 &
pids+=($!)

for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$admin_port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fs "http://127.0.0.1:$admin_port/readyz?verbose" || {
  echo "the proxy did not become ready; see $demo/proxy.log, $demo/kms-plugin.log and $demo/etcd.log" >&2
  exit 1
}

export ETCDCTL_API=3
key=/registry/secrets/default/demo-secret
secret='{"apiVersion":"v1","kind":"Secret","metadata":{"name":"demo-secret"},"data":{"password":"czNjcjN0"}}'
say "writing $key through the proxy"
etcdctl --endpoints="127.0.0.1:$proxy_port" put "$key" "$secret"

say "raw value in etcd (what a stolen backup holds)"
etcdctl --endpoints="127.0.0.1:$etcd_port" get "$key" --print-value-only | head -c 160 | cat -v
echo

say "the same key through the proxy"
etcdctl --endpoints="127.0.0.1:$proxy_port" get "$key" --print-value-only

cm=/registry/configmaps/default/demo-config
etcdctl --endpoints="127.0.0.1:$proxy_port" put "$cm" '{"kind":"ConfigMap","data":{"mode":"demo"}}' >/dev/null
say "a ConfigMap, stored with the local secretbox key"
etcdctl --endpoints="127.0.0.1:$etcd_port" get "$cm" --print-value-only | head -c 60 | cat -v
echo

say "where to look: the proxy's metrics"
echo "  http://127.0.0.1:$admin_port/metrics   (readiness: http://127.0.0.1:$admin_port/readyz?verbose)"
echo "  the DEK cache counters now:"
curl -fs "http://127.0.0.1:$admin_port/metrics" | grep -E '^etcd_crypt_proxy_dek_cache_(hits|misses)_total' | sed 's/^/    /'
echo "  DEK cache hit ratio in Prometheus (alert rules: charts/etcd-crypt-proxy/alerts/, runbooks: docs/operations.md section 7):"
echo '    sum(rate(etcd_crypt_proxy_dek_cache_hits_total[5m])) / (sum(rate(etcd_crypt_proxy_dek_cache_hits_total[5m])) + sum(rate(etcd_crypt_proxy_dek_cache_misses_total[5m])))'

if $keep; then
  say "running; point any etcd client at 127.0.0.1:$proxy_port. Ctrl-C stops everything."
  echo "  etcdctl --endpoints=127.0.0.1:$proxy_port get --prefix /registry/"
  echo "  curl http://127.0.0.1:$admin_port/readyz?verbose"
  wait
fi
