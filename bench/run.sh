#!/usr/bin/env bash
# Side-by-side benchmark of etcd-crypt-proxy against direct etcd and etcd's grpc-proxy (see bench/README.md).
#
#   bench/run.sh            the full run (about 30 minutes on 2 cores); results in bench/results/full.*
#   bench/run.sh --quick    under 3 minutes; results in bench/results/quick.*
#   bench/run.sh --jmh      the JMH micro-benchmarks of the providers instead
#   bench/run.sh --startup  how fast a freshly started proxy serves, per JDK and start-up option (StartupBench);
#                           results in bench/results/startup.*
#
# Other flags go to the harness: --targets etcd,aesgcm  --ops create,get  --rounds N  --slice-ms MS  --warmup-rounds N
# --jfr aesgcm (JFR recording of that proxy's measured rounds, summarised into <name>-profile-aesgcm.md)  --proxy-java-opts "-Xmx256m ..."  --out DIR
# --name NAME  --keep (keep the tmpfs work dir).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
if ((${#missing[@]})); then
  echo "run.sh: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

offline=()
[ -n "${BENCH_OFFLINE:-}" ] && offline=(-o)
# The proxy jar (tests are not compiled or run: the benchmark never slows down the main build, nor the reverse).
mvn -B -q "${offline[@]}" -Dmaven.test.skip=true package
mvn -B -q "${offline[@]}" -f bench/pom.xml -DskipTests package

cp="bench/target/classes:bench/target/lib/*:target/etcd-crypt-proxy.jar"
if [ "${1:-}" = "--jmh" ]; then
  shift
  exec java -cp "$cp" org.openjdk.jmh.Main "$@"
fi
if [ "${1:-}" = "--startup" ]; then
  shift
  exec java -Xmx512m -cp "$cp" io.etcdcrypt.bench.StartupBench "$@"
fi
exec java -Xmx1g -XX:+UseParallelGC -cp "$cp" io.etcdcrypt.bench.Bench "$@"
