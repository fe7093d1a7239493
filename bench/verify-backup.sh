#!/usr/bin/env bash
# verify-backup timing and memory (bench/README.md, "verify-backup"): snapshots of N values of SIZE bytes written through
# the proxy, verified with the proxy's usual heap (-Xmx256m -XX:+UseSerialGC); wall time and maximum RSS from
# /usr/bin/time -v. Results: bench/results/verify-backup.md (and .json).
#
#   bench/verify-backup.sh                 aesgcm and KMS v2, 100,000 x 1 KiB; identity, 100,000 x 10 KiB (1 GiB)
#   bench/verify-backup.sh aesgcm          one case (aesgcm, kmsv2 or identity-1g)
# Environment: ETCD (default: testenv/bin/etcd-3.6, else etcd on PATH), NO_BUILD=1 to use target/etcd-crypt-proxy.jar.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
jar=$repo/target/etcd-crypt-proxy.jar
[ -n "${NO_BUILD:-}" ] && [ -f "$jar" ] || mvn -B -q -o -Dmaven.test.skip=true package
etcd_bin=${ETCD:-$repo/testenv/bin/etcd-3.6}
[ -x "$etcd_bin" ] || etcd_bin=$(command -v etcd)
export ETCDCTL_API=3
work=$(mktemp -d "${TMPDIR:-/tmp}/verify-backup-bench.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cp "$jar" "$work/etcd-crypt-proxy.jar" # later builds in the checkout do not touch the one measured
jar=$work/etcd-crypt-proxy.jar

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_ready() { # url
  for _ in $(seq 1 150); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "not ready: $1" >&2
  return 1
}

results=()
run_case() { # name provider-yaml N SIZE
  local name=$1 provider=$2 n=$3 size=$4 dir=$work/$1
  mkdir -p "$dir"
  local etcd_port peer_port proxy_port admin_port
  etcd_port=$(free_port); peer_port=$(free_port); proxy_port=$(free_port); admin_port=$(free_port)
  "$etcd_bin" --data-dir "$dir/etcd" --listen-client-urls "http://127.0.0.1:$etcd_port" \
    --advertise-client-urls "http://127.0.0.1:$etcd_port" --listen-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" --initial-cluster "default=http://127.0.0.1:$peer_port" \
    --quota-backend-bytes 4294967296 --log-level warn >"$dir/etcd.log" 2>&1 &
  local etcd_pid=$!
  pids+=("$etcd_pid")
  wait_ready "http://127.0.0.1:$etcd_port/health"
  printf 'apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - %s\n' \
    "$provider" >"$dir/enc.yaml"
  java -Xmx256m -XX:+UseSerialGC -jar "$jar" serve --listen-addr "127.0.0.1:$proxy_port" \
    --endpoints "127.0.0.1:$etcd_port" --encryption-provider-config "$dir/enc.yaml" \
    --metrics-addr "127.0.0.1:$admin_port" >"$dir/proxy.log" 2>&1 &
  local proxy_pid=$!
  pids+=("$proxy_pid")
  wait_ready "http://127.0.0.1:$admin_port/readyz"
  java -cp "$jar" bench/LoadValues.java "127.0.0.1:$proxy_port" "$n" "$size"
  kill "$proxy_pid"
  etcdctl --endpoints "127.0.0.1:$etcd_port" snapshot save "$dir/snap.db" >/dev/null 2>&1
  kill "$etcd_pid"
  local bytes
  bytes=$(stat -c %s "$dir/snap.db")
  for mode in latest all-revisions; do
    local extra=()
    [ "$mode" = all-revisions ] && extra=(--all-revisions)
    local rc=0
    /usr/bin/time -v -o "$dir/time-$mode.txt" java -Xmx256m -XX:+UseSerialGC -jar "$jar" verify-backup "$dir/snap.db" \
      --encryption-provider-config "$dir/enc.yaml" --output json "${extra[@]}" >"$dir/report-$mode.json" || rc=$?
    local wall rss values
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$dir/time-$mode.txt")
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%d", $2/1024}' "$dir/time-$mode.txt")
    values=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["latest"]["values"])' "$dir/report-$mode.json")
    echo "$name $mode: $values values, snapshot $bytes bytes: wall $wall, max RSS $rss MiB, exit $rc"
    results+=("{\"case\":\"$name\",\"mode\":\"$mode\",\"values\":$values,\"valueBytes\":$size,\"snapshotBytes\":$bytes,\"wall\":\"$wall\",\"maxRssMiB\":$rss,\"exit\":$rc}")
  done
}

cases=${1:-aesgcm kmsv2 identity-1g}
for c in $cases; do
  case $c in
    aesgcm) run_case aesgcm "aesgcm: {keys: [{name: key1, secret: 'P3fqRREKNdXNRpKj2cvsBA=='}]}" 100000 1024 ;;
    kmsv2)
      java -jar "$jar" kms-plugin generate-key --key-file "$work/keks" >/dev/null
      java -Xmx128m -jar "$jar" kms-plugin --listen "unix://$work/kms.sock" --key-file "$work/keks" >"$work/kms.log" 2>&1 &
      pids+=($!)
      for _ in $(seq 1 100); do [ -S "$work/kms.sock" ] && break; sleep 0.2; done
      run_case kmsv2 "kms: {apiVersion: v2, name: bench, endpoint: 'unix://$work/kms.sock', timeout: 3s}" 100000 1024 ;;
    identity-1g) run_case identity-1g "identity: {}" 100000 10240 ;;
    *) echo "unknown case $c" >&2; exit 2 ;;
  esac
done

out=bench/results/verify-backup
{
  echo "["
  (IFS=,; echo "${results[*]}")
  echo "]"
} >"$out.json"
{
  echo "# verify-backup: time and memory"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $("$etcd_bin" --version | head -1);"
  echo "\`java -Xmx256m -XX:+UseSerialGC -jar etcd-crypt-proxy.jar verify-backup SNAPSHOT --output json [--all-revisions]\`,"
  echo "measured with /usr/bin/time -v; the snapshot from \`etcdctl snapshot save\` after the values were written through"
  echo "the proxy (KMS v2: the bundled plugin on a unix socket, so its latency is in the figure)."
  echo
  echo "| case | mode | values | value bytes | snapshot bytes | wall | max RSS (MiB) | exit |"
  echo "|---|---|---|---|---|---|---|---|"
  python3 -c '
import json,sys
for r in json.load(open(sys.argv[1])):
    print("| %s | %s | %d | %d | %d | %s | %d | %d |" % (r["case"], r["mode"], r["values"], r["valueBytes"], r["snapshotBytes"], r["wall"], r["maxRssMiB"], r["exit"]))
' "$out.json"
} >"$out.md"
cat "$out.md"
