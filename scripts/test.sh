#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian or Ubuntu machine with Java 17, Maven and Go 1.26.
#
# The tests use real components, so this installs what they need when it is missing: etcd and etcdctl
# (Debian's etcd-server and etcd-client), python3-etcd3 (a second real client) and SoftHSM2 (a PKCS#11 token
# for the bundled KMS plugin), golang-etcd-server-dev (etcd 3.4's Go sources, to build the 3.4 Go client and
# etcd-runner fixtures), docker-compose (only to validate docker-compose.yml with `docker-compose config`,
# which needs no Docker engine) and prometheus (promtool checks and unit-tests the alert rules; a real Prometheus
# scrapes a real proxy and evaluates the dashboard's queries and the alerts). It needs root or sudo only for that
# installation. Then it builds the Go test
# fixtures (testenv/build.sh) and runs `mvn verify`: unit and real-component tests, the differential suite on
# every etcd release, and the kube-apiserver end-to-end tests (*IT) against the built jar; then it compiles the
# benchmarks (bench/) against that jar, without running them.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/require.sh
require_java17
require_maven
require_go

missing=()
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
/usr/bin/python3 -c 'import etcd3' >/dev/null 2>&1 || missing+=(python3-etcd3)
command -v softhsm2-util >/dev/null 2>&1 || missing+=(softhsm2)
[ -d /usr/share/gocode/src/go.etcd.io/etcd/clientv3 ] || missing+=(golang-etcd-server-dev)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
if ((${#missing[@]})); then
  echo "test.sh: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# kube-apiserver, kubectl, etcd 3.5/3.6/3.7, the Go client scenarios and etcd-runner from their published Go modules
# (and from Debian's etcd 3.4 sources), cached by version: minutes on a fresh machine, seconds afterwards
# (testenv/build.sh says where the cache is).
testenv/build.sh

# Debian's etcd-server may start a system etcd on 2379, and its prometheus a system Prometheus on 9090; the tests
# never use them (they start their own etcd and Prometheus processes on free loopback ports), so they are left alone.
mvn -B -ntp verify "$@"

# bench/ is deliberately no module of the root build (benchmarks never run with the tests), so nothing else would
# notice when a change to the proxy breaks it: compile it, from clean (its sources did not change, the jar did),
# against the jar verify just made. No benchmark runs, and no test phase: the last test summary stays verify's.
mvn -B -ntp -f bench/pom.xml clean compile
