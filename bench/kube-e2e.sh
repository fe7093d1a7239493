#!/usr/bin/env bash
# kube-apiserver end to end (see bench/README.md): the same kube-apiserver 1.37 and etcd 3.6, once with native
# --encryption-provider-config and once through etcd-crypt-proxy with the same file, for aesgcm and KMS v2 (the
# bundled plugin); Secret create, update, get and list pages through the API, interleaved.
#
#   bench/kube-e2e.sh           full run (about 12-15 minutes on 2 cores) -> bench/results/kube-e2e.{json,md}
#   bench/kube-e2e.sh --quick   about 3 minutes                           -> bench/results/kube-e2e-quick.{json,md}
#
# Other flags go to the harness: --levels 1,16  --ops create,update,get,list  --rounds N  --slice-ms MS
# --warmup-rounds N  --etcd-path (quick: also the --watch-cache=false phase)  --no-etcd-path
# --proxy-java-opts "..." (default: the Dockerfile's, @jvm.options)  --out DIR  --name NAME  --keep.
# NO_BUILD=1 reuses target/etcd-crypt-proxy.jar and bench/target; BENCH_OFFLINE=1 builds with mvn -o.
set -euo pipefail
cd "$(dirname "$0")/.."

for b in kube-apiserver etcd-3.6; do
  if [ ! -x "testenv/bin/$b" ]; then
    echo "kube-e2e.sh: testenv/bin/$b is missing: run testenv/build.sh first (it builds kube-apiserver and" >&2
    echo "etcd 3.6 from their Go modules into a cache and links them there; about 8 minutes the first time)." >&2
    exit 2
  fi
done
command -v openssl >/dev/null 2>&1 || { echo "kube-e2e.sh: openssl is needed for the test PKI (apt-get install openssl)" >&2; exit 2; }
[ -d /dev/shm ] || { echo "kube-e2e.sh: /dev/shm (tmpfs) is needed for etcd's data" >&2; exit 2; }

if [ -z "${NO_BUILD:-}" ]; then
  offline=()
  [ -n "${BENCH_OFFLINE:-}" ] && offline=(-o)
  mvn -B -q "${offline[@]}" -Dmaven.test.skip=true package
  mvn -B -q "${offline[@]}" -f bench/pom.xml -DskipTests package
fi

cp="bench/target/classes:bench/target/lib/*:target/etcd-crypt-proxy.jar"
# The harness ends every process it started (also on Ctrl-C: a shutdown hook); exec keeps signals going to it.
exec java -Xmx1g -XX:+UseParallelGC -cp "$cp" io.etcdcrypt.bench.KubeBench "$@"
