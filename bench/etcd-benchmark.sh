#!/usr/bin/env bash
# etcd's own load generator, `benchmark` (tools/benchmark of etcd 3.6, built by testenv/build.sh as the fixture
# etcd-benchmark), against direct etcd 3.6, etcd's grpc-proxy and etcd-crypt-proxy (aesgcm on secrets): a second
# load generator, independent of the Java harness (bench/run.sh). See bench/README.md, "etcd's benchmark tool".
#
#   bench/etcd-benchmark.sh            full run, about 6.5 minutes on 2 cores (plus the builds) ->
#                                      bench/results/etcd-benchmark.md, bench/results/etcd-benchmark/ (the tool's
#                                      own outputs, summary.json)
#   bench/etcd-benchmark.sh --quick    about 1 minute (plus the builds) -> bench/results/etcd-benchmark-quick.*
#
# Options: --rounds N (4; quick 2)  --clients N (64)  --conns N (8)  --note TEXT (written into the results, e.g.
# "shared machine: a Maven build ran alongside")  --out DIR (bench/results)  --keep (keep the work dir on /dev/shm).
# Environment: NO_BUILD=1 uses target/etcd-crypt-proxy.jar and testenv/bin as they are; BENCH_OFFLINE=1 builds the
# jar with mvn -o; PROXY_JAVA_OPTS replaces the proxy's JVM options (default below).
#
# Every subcommand runs once per target per round, the targets in an order rotated each round; a warm-up round (not
# recorded) runs first. All three targets use one etcd; each writes under its own /registry/secrets/etcd-benchmark/
# <target>/ so that the proxy encrypts what it writes (aesgcm) and etcd and the grpc-proxy store it as sent.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

mode=full rounds="" clients=64 conns=8 note="" out=$repo/bench/results keep=0
while (($#)); do
  case $1 in
    --quick) mode=quick ;;
    --rounds) rounds=$2; shift ;;
    --clients) clients=$2; shift ;;
    --conns) conns=$2; shift ;;
    --note) note=$2; shift ;;
    --out) out=$2; shift ;;
    --keep) keep=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "etcd-benchmark.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

# Sizes of one run of each subcommand. The tool counts requests, not time: at some 5,000-15,000 puts/s on 2 cores a
# full put takes 1.5-4 s. watch-latency puts at a fixed rate (put-total / put-rate seconds) and is about latency.
if [ "$mode" = quick ]; then
  name=etcd-benchmark-quick rounds=${rounds:-2}
  put_total=5000 range_total=10000 txn_total=5000 wl_puts=300 w_puts=1000 warm_total=3000
else
  name=etcd-benchmark rounds=${rounds:-4}
  put_total=20000 range_total=40000 txn_total=20000 wl_puts=1000 w_puts=4000 warm_total=10000
fi
wl_rate=100      # watch-latency: puts per second (the tool's default)
value_bytes=1024 # 1 KiB values (put, txn-put, watch-latency; the range key is written with the same size)
# The proxy's JVM as the image and chart run it: the repository's jvm.options (the Dockerfile's ENTRYPOINT).
proxy_java_opts=${PROXY_JAVA_OPTS:-@$repo/jvm.options}

jar=$repo/target/etcd-crypt-proxy.jar
if [ -z "${NO_BUILD:-}" ]; then
  offline=()
  [ -n "${BENCH_OFFLINE:-}" ] && offline=(-o)
  mvn -B -q "${offline[@]}" -Dmaven.test.skip=true package
  testenv/build.sh etcd-3.6 etcd-benchmark # builds what is missing (the tool: ~2 minutes the first time)
fi
etcd_bin=$repo/testenv/bin/etcd-3.6 bench_bin=$repo/testenv/bin/etcd-benchmark
for f in "$jar" "$etcd_bin" "$bench_bin"; do
  [ -e "$f" ] || { echo "etcd-benchmark.sh: $f missing (run without NO_BUILD=1)" >&2; exit 1; }
done

shm=/dev/shm
[ -d "$shm" ] && [ -w "$shm" ] || shm=${TMPDIR:-/tmp}
work=$(mktemp -d "$shm/etcd-benchmark.XXXXXX")
pids=() bench_pid=""
cleanup() {
  for p in $bench_pid "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if ((keep)); then echo "etcd-benchmark.sh: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cp "$jar" "$work/etcd-crypt-proxy.jar" # a build in the checkout during the run does not touch the jar measured

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() { # what url|host:port log
  local i
  for i in $(seq 1 600); do # 60 s: a JVM on a busy machine starts slowly
    case $2 in
      http*) curl -fs "$2" >/dev/null 2>&1 && return 0 ;;
      *) (exec 3<>"/dev/tcp/${2%:*}/${2#*:}") 2>/dev/null && return 0 ;;
    esac
    sleep 0.1
  done
  echo "etcd-benchmark.sh: $1 not ready at $2; its log ($3):" >&2
  tail -20 "$3" >&2
  exit 1
}

etcd_port=$(free_port) peer_port=$(free_port) grpcproxy_port=$(free_port) proxy_port=$(free_port) admin_port=$(free_port)
etcd_ep=127.0.0.1:$etcd_port
"$etcd_bin" --name bench --data-dir "$work/etcd" --listen-client-urls "http://$etcd_ep" \
  --advertise-client-urls "http://$etcd_ep" --listen-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" --initial-cluster "bench=http://127.0.0.1:$peer_port" \
  --quota-backend-bytes 8589934592 --snapshot-count 5000 --log-level warn >"$work/etcd.log" 2>&1 &
pids+=($!)
wait_ready etcd "http://$etcd_ep/health" "$work/etcd.log"

"$etcd_bin" grpc-proxy start --endpoints "$etcd_ep" --listen-addr "127.0.0.1:$grpcproxy_port" \
  --advertise-client-url "127.0.0.1:$grpcproxy_port" >"$work/grpc-proxy.log" 2>&1 &
pids+=($!)
wait_ready grpc-proxy "127.0.0.1:$grpcproxy_port" "$work/grpc-proxy.log"

cat >"$work/encryption-config.yaml" <<'EOF'
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - aesgcm:
      keys:
      - name: key1
        secret: P3fqRREKNdXNRpKj2cvsBA==
  - identity: {}
EOF
# shellcheck disable=SC2086 # the options are words
java $proxy_java_opts -jar "$work/etcd-crypt-proxy.jar" serve --listen-addr "127.0.0.1:$proxy_port" \
  --endpoints "$etcd_ep" --encryption-provider-config "$work/encryption-config.yaml" \
  --metrics-addr "127.0.0.1:$admin_port" >"$work/proxy.log" 2>&1 &
proxy_pid=$!
pids+=("$proxy_pid")
wait_ready etcd-crypt-proxy "http://127.0.0.1:$admin_port/readyz" "$work/proxy.log"

targets=(etcd grpc-proxy etcd-crypt-proxy)
declare -A endpoint=([etcd]=$etcd_ep [grpc-proxy]=127.0.0.1:$grpcproxy_port [etcd-crypt-proxy]=127.0.0.1:$proxy_port)
subcommands=(put range-serializable range-linearizable txn-put watch-latency watch)
raw=$out/$name
rm -rf "$raw"
mkdir -p "$raw"

prefix() { echo "/registry/secrets/etcd-benchmark/$1/"; } # target

# One run of the tool: bench SUBCOMMAND TARGET OUTFILE [TOTAL]. Its stdout (the reports) goes to OUTFILE, headed by
# the exact command line; of its stderr (a progress bar and grpc-go's INFO log) the WARNING/ERROR lines, if any, to
# OUTFILE.stderr. --precise: latencies in full precision (else 0.1 ms steps).
bench() {
  local sub=$1 target=$2 file=$3 total=${4:-} p args
  p=$(prefix "$target")
  args=(--endpoints "${endpoint[$target]}" --clients "$clients" --conns "$conns" --precise)
  case $sub in
    put) args+=(--key-prefix "$p" put --key-size 8 --val-size "$value_bytes" --key-space-size 10000
      --total "${total:-$put_total}") ;;
    # The range key is the one key the seed below wrote: [<prefix>range-, <prefix>range.) holds only it.
    range-serializable | range-linearizable)
      args+=(range "${p}range-" "${p}range." --consistency "$([ "$sub" = range-serializable ] && echo s || echo l)"
        --total "${total:-$range_total}") ;;
    txn-put) args+=(--key-prefix "$p" txn-put --key-size 8 --val-size "$value_bytes" --key-space-size 10000
      --txn-ops 1 --total "${total:-$txn_total}") ;;
    # 100 watchers (10 streams x 10) of one key; every put of a 1 KiB value is an event to each of them.
    watch-latency) args+=(--key-prefix "$p" watch-latency --streams 10 --watchers-per-stream 10
      --put-rate "$wl_rate" --put-total "${total:-$wl_puts}" --key-size 32 --val-size "$value_bytes") ;;
    # 100 watchers (10 streams x 10) over 10 keys, so 10 per key; puts (of the tool's fixed 4-byte value) as fast
    # as they go: throughput of events delivered.
    watch) args+=(--key-prefix "$p" watch --streams 10 --watch-per-stream 10 --watched-key-total 10
      --key-size 32 --key-space-size 1000 --put-total "${total:-$w_puts}") ;;
    seed-range) args+=(--key-prefix "${p}range-" put --key-size 8 --val-size "$value_bytes" --key-space-size 1
      --total 1) ;;
  esac
  printf '$ benchmark' >"$file"
  printf ' %q' "${args[@]}" >>"$file"
  printf '\n' >>"$file"
  local rc=0
  # In the background, waited for: a signal to this script is handled at once (the trap stops the tool too).
  timeout 300 "$bench_bin" "${args[@]}" >>"$file" 2>"$work/stderr" &
  bench_pid=$!
  wait "$bench_pid" || rc=$?
  bench_pid=""
  grep -E ' (WARNING|ERROR|FATAL): ' "$work/stderr" >"$file.stderr" || rm -f "$file.stderr"
  if ((rc)); then
    echo "etcd-benchmark.sh: benchmark $sub against $target failed (exit $rc); the end of its output:" >&2
    tail -5 "$file" "$work/stderr" >&2
    exit 1
  fi
}

# Compacts etcd's history between rounds (outside the runs), so that every round starts from about the same database
# (with etcdctl, when it is installed: Debian's etcd-client; without it the database just grows, by some 0.2 GB a
# full round).
compact() {
  command -v etcdctl >/dev/null || return 0
  local rev
  rev=$(ETCDCTL_API=3 etcdctl --endpoints "$etcd_ep" endpoint status -w json 2>/dev/null \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])') || return 0
  ETCDCTL_API=3 etcdctl --endpoints "$etcd_ep" compact "$rev" --physical >/dev/null 2>&1 \
    && ETCDCTL_API=3 etcdctl --endpoints "$etcd_ep" defrag >/dev/null 2>&1 \
    && echo "etcd-benchmark.sh: compacted etcd at revision $rev and defragmented it"
  return 0
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date +%s)
echo "etcd-benchmark.sh: $mode run, $rounds rounds, --clients $clients --conns $conns; outputs in $raw/"
mkdir -p "$raw/warm-up"
for t in "${targets[@]}"; do
  bench seed-range "$t" "$raw/warm-up/seed-range-$t.txt"
  # Warm-up (the proxy's JIT, etcd's and the grpc-proxy's caches): not recorded.
  for sub in put range-linearizable txn-put; do bench "$sub" "$t" "$raw/warm-up/$sub-$t.txt" "$warm_total"; done
done
compact
for ((r = 1; r <= rounds; r++)); do
  order=()
  for ((i = 0; i < ${#targets[@]}; i++)); do order+=("${targets[$(((i + r - 1) % ${#targets[@]}))]}"); done
  echo "etcd-benchmark.sh: round $r/$rounds (order: ${order[*]}), $(($(date +%s) - start)) s in"
  for sub in "${subcommands[@]}"; do
    for t in "${order[@]}"; do bench "$sub" "$t" "$raw/r$r-$sub-$t.txt"; done
  done
  compact
done
elapsed=$(($(date +%s) - start))

# What the run stored, read from etcd itself (with etcdctl, when installed): the proxy's values must be aesgcm
# ciphertext, the others' the tool's plaintext; a run that did not encrypt would compare nothing of interest.
at_rest="not checked (no etcdctl)"
if command -v etcdctl >/dev/null; then
  at_rest=$(for t in "${targets[@]}"; do
    printf '%s ' "$t"
    ETCDCTL_API=3 etcdctl --endpoints "$etcd_ep" get --prefix "$(prefix "$t")" --limit 200 -w json
    echo
  done | python3 -c '
import base64, json, sys
out, bad = [], False
for line in sys.stdin:
    if not line.strip():
        continue
    t, js = line.split(" ", 1)
    vals = [base64.b64decode(kv["value"]) for kv in json.loads(js).get("kvs", [])]
    enc = sum(v.startswith(b"k8s:enc:aesgcm:v1:key1:") for v in vals)
    bad |= (enc != len(vals)) if t == "etcd-crypt-proxy" else enc > 0 or not vals
    out.append("%s %d of %d aesgcm" % (t, enc, len(vals)))
print(("UNEXPECTED: " if bad else "") + ", ".join(out) + " (up to 200 values of each read from etcd)")')
  echo "etcd-benchmark.sh: at rest: $at_rest"
  case $at_rest in UNEXPECTED*) echo "etcd-benchmark.sh: the proxy's values are not all encrypted, or the others' are" >&2; exit 1 ;; esac
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
proxy_hwm=$(awk '/VmHWM/ {printf "%d", $2/1024}' "/proc/$proxy_pid/status" 2>/dev/null || echo "?")

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "mode: $mode"
  echo "rounds: $rounds"
  echo "clients: $clients"
  echo "conns: $conns"
  echo "totals: put $put_total, range $range_total, txn-put $txn_total, watch-latency $wl_puts puts at $wl_rate/s, watch $w_puts puts"
  echo "elapsed: $elapsed s"
  echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB"
  echo "load average before: $load_before"
  echo "load average after: $load_after"
  echo "etcd: $("$etcd_bin" --version | head -1), grpc-proxy: the same binary"
  echo "benchmark: etcd tools/benchmark, module $(sed -n 's#^require go.etcd.io/etcd/v3 ##p' testenv/etcd-benchmark/go.mod) (testenv/etcd-benchmark)"
  echo "java: $(java -version 2>&1 | head -1)"
  echo "proxy JVM options: $proxy_java_opts"
  echo "proxy peak RSS: $proxy_hwm MiB (VmHWM at the end)"
  echo "stored values: $at_rest"
  echo "note: $note"
} >"$raw/run.txt"

python3 - "$raw" "$out/$name.md" "$rounds" "${subcommands[*]}" "${targets[*]}" <<'PY'
import json, os, re, statistics, sys

raw, md, rounds, subs, targets = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split(), sys.argv[5].split()
run = dict(l.split(": ", 1) for l in open(os.path.join(raw, "run.txt")).read().splitlines())

def reports(text):
    """The tool's reports in one output, in order: [{summary: {...}, latency: {pct: seconds}, errors: [...]}]."""
    out = []
    for part in re.split(r"\nSummary:\n", text)[1:]:
        rep = {"summary": {}, "latency": {}, "errors": []}
        for k, v in re.findall(r"^\s+(Total|Slowest|Fastest|Average|Stddev|Requests/sec):\s+([0-9.]+(?:e[-+][0-9]+)?)", part, re.M):
            rep["summary"][k] = float(v)
        for p, v in re.findall(r"^\s+([0-9.]+)% in ([0-9.]+(?:e[-+][0-9]+)?) secs", part, re.M):
            rep["latency"][p] = float(v)
        m = re.search(r"Error distribution:\n((?:\s+\[.*\n?)+)", part)
        if m:
            rep["errors"] = [l.strip() for l in m.group(1).splitlines() if l.strip()]
        out.append(rep)
    return out

# Which report of an output is the measurement: watch-latency prints the puts' then the events'; watch prints
# the watch creation then the events received.
which = {"watch-latency": 1, "watch": 1}
runs = {}
for sub in subs:
    for t in targets:
        for r in range(1, rounds + 1):
            text = open(os.path.join(raw, f"r{r}-{sub}-{t}.txt")).read()
            reps = reports(text)
            rep = reps[which.get(sub, 0)]
            entry = {"round": r, "rps": rep["summary"].get("Requests/sec"), "total_s": rep["summary"].get("Total"),
                     "avg_ms": rep["summary"].get("Average", 0) * 1e3,
                     "p50_ms": rep["latency"].get("50", 0) * 1e3, "p90_ms": rep["latency"].get("90", 0) * 1e3,
                     "p99_ms": rep["latency"].get("99", 0) * 1e3, "p999_ms": rep["latency"].get("99.9", 0) * 1e3,
                     "errors": sum((rep["errors"] for rep in reps), [])}
            if sub == "watch-latency":
                entry["put_p50_ms"] = reps[0]["latency"].get("50", 0) * 1e3
                entry["put_p99_ms"] = reps[0]["latency"].get("99", 0) * 1e3
            runs.setdefault(sub, {}).setdefault(t, []).append(entry)

def med(sub, t, k):
    return statistics.median(e[k] for e in runs[sub][t])

summary = {"run": run, "runs": runs, "median": {
    sub: {t: {k: med(sub, t, k) for k in runs[sub][t][0] if k not in ("round", "errors")} for t in targets}
    for sub in subs}}
json.dump(summary, open(os.path.join(raw, "summary.json"), "w"), indent=1)

what = {
    "put": "`put`: 1 KiB values, 8-byte keys (10,000 of them) under `--key-prefix`",
    "range-serializable": "`range --consistency s`: one key of 1 KiB (as written through the target: ciphertext in etcd for the proxy)",
    "range-linearizable": "`range --consistency l`: the same key, linearizable",
    "txn-put": "`txn-put --txn-ops 1`: a Txn of one Put, 1 KiB values",
    "watch-latency": "`watch-latency`: 100 watchers (10 streams x 10) of one key, one client putting 1 KiB values at 100/s; event latency = put answered -> event received, for each watcher (the tool's second report); put = the puts' own latency (its first)",
    "watch": "`watch`: 100 watchers (10 streams x 10) over 10 keys, puts of the tool's 4-byte value as fast as they go; req/s = events received per second",
}
errors = [(sub, t, e["round"], x) for sub in subs for t in targets for e in runs[sub][t] for x in e["errors"]]
with open(md, "w") as f:
    f.write("# etcd's benchmark tool against etcd, grpc-proxy and etcd-crypt-proxy\n\n")
    f.write("Made by `bench/etcd-benchmark.sh%s` (see bench/README.md) on %s in %s.\n\n" % (
        " --quick" if run["mode"] == "quick" else "", run["date"], run["elapsed"]))
    if run["note"]:
        f.write("**%s**\n\n" % run["note"])
    for k in ("machine", "load average before", "load average after", "etcd", "benchmark", "java",
              "proxy JVM options", "proxy peak RSS", "stored values", "totals"):
        f.write("- %s: %s\n" % (k, run[k]))
    f.write("- every target is one process on loopback, all in front of one etcd (data dir on /dev/shm); the proxy "
            "encrypts `secrets` with aesgcm and every key is under `/registry/secrets/etcd-benchmark/<target>/`; "
            "`--clients %s --conns %s` for every subcommand but watch-latency's puts (one client)\n" % (run["clients"], run["conns"]))
    f.write("- each figure is the median over %s rounds of the tool's own report (Requests/sec, latency "
            "percentiles); the targets took turns, in an order rotated each round, after a warm-up round that is "
            "not counted\n" % run["rounds"])
    f.write("- the grpc-proxy answers serializable ranges from its own cache (etcd's grpc-proxy caches them), so "
            "range-serializable measures that cache on it\n\n")
    for sub in subs:
        f.write("## %s\n\n%s\n\n" % (sub, what[sub]))
        base = summary["median"][sub][targets[0]]
        if sub == "watch-latency":
            f.write("| target | event p50 ms | event p90 ms | event p99 ms | p99 vs etcd | put p50 ms | put p99 ms |\n")
            f.write("|---|---|---|---|---|---|---|\n")
            for t in targets:
                m = summary["median"][sub][t]
                f.write("| %s | %.2f | %.2f | %.2f | %.2fx | %.2f | %.2f |\n" % (
                    t, m["p50_ms"], m["p90_ms"], m["p99_ms"], m["p99_ms"] / base["p99_ms"], m["put_p50_ms"], m["put_p99_ms"]))
        elif sub == "watch":  # its per-event "latency" is receive time to receive time: no latency to show
            f.write("| target | events/s | ratio to etcd | events/s per round |\n|---|---|---|---|\n")
            for t in targets:
                m = summary["median"][sub][t]
                per = ", ".join("%.0f" % e["rps"] for e in runs[sub][t])
                f.write("| %s | %.0f | %.2fx | %s |\n" % (t, m["rps"], m["rps"] / base["rps"], per))
        else:
            f.write("| target | req/s | ratio to etcd | p50 ms | p99 ms | req/s per round |\n|---|---|---|---|---|---|\n")
            for t in targets:
                m = summary["median"][sub][t]
                per = ", ".join("%.0f" % e["rps"] for e in runs[sub][t])
                f.write("| %s | %.0f | %.2fx | %.2f | %.2f | %s |\n" % (
                    t, m["rps"], m["rps"] / base["rps"], m["p50_ms"], m["p99_ms"], per))
        f.write("\n")
    f.write("## Errors reported by the tool\n\n")
    if errors:
        for sub, t, r, x in errors:
            f.write("- %s, %s, round %d: %s\n" % (sub, t, r, x))
    else:
        f.write("None.\n")
    f.write("\nRaw outputs, each headed by its command line: `%s/` (`r<round>-<subcommand>-<target>.txt`, "
            "`warm-up/`), with `summary.json` (every round's figures and the medians) and `run.txt`.\n" % os.path.basename(raw))
print(open(md).read())
PY
