#!/usr/bin/env bash
# Builds the Go test fixtures (kube-apiserver, kubectl, etcd 3.5/3.6/3.7 servers, Go etcd clients, etcd-runner) from
# the published Go modules pinned in testenv/*/go.mod, and the etcd 3.4 ones from Debian's etcd sources
# (golang-etcd-server-dev), into a cache keyed by version and by the sources, and links them into testenv/bin/ where
# the tests look for them. A second run with the same files builds nothing.
#
#   testenv/build.sh            build what is missing of the tests' fixtures, link testenv/bin/*
#   testenv/build.sh NAME...    only these (e.g. `etcd-3.6 etcd-benchmark`, which bench/etcd-benchmark.sh asks for);
#                               the bench_fixtures below are built only when named, never for the tests
#   FIXTURE_CACHE=/dir ...      cache somewhere else (default: ${XDG_CACHE_HOME:-$HOME/.cache}/etcd-crypt-proxy/fixtures)
#
# Go is used for test fixtures only; the product is the Java proxy.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${FIXTURE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/etcd-crypt-proxy/fixtures}
mkdir -p "$cache" "$here/bin"

# A private GOPATH and build cache: the fixtures' several GB stay in one folder, apart from the user's own.
export GOPATH="$cache/gopath" GOCACHE="$cache/gocache" GOFLAGS=-modcacherw CGO_ENABLED=0
# The go.mod files ask for Go 1.26; never download another toolchain behind the user's back.
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}

command -v go >/dev/null || { echo "testenv/build.sh: no Go toolchain on PATH (need go 1.26+)" >&2; exit 1; }

# name           module dir  package                                 module whose version names the binary
fixtures=(
  "kube-apiserver kube       k8s.io/kubernetes/cmd/kube-apiserver    k8s.io/kubernetes"
  "kubectl        kube       k8s.io/kubernetes/cmd/kubectl           k8s.io/kubernetes"
  "etcd-3.5       etcd-3.5   .                                       go.etcd.io/etcd/server/v3"
  "etcd-3.6       etcd-3.6   .                                       go.etcd.io/etcd/server/v3"
  "etcd-3.7       etcd-3.7   .                                       go.etcd.io/etcd/server/v3"
  "goclient-3.7   goclient   .                                       go.etcd.io/etcd/client/v3"
  "etcd-runner-3.5 etcd-runner-3.5 .                                 go.etcd.io/etcd/tests/v3"
)
# Built only when named: the benchmarks' tools, which the tests do not need (so CI does not pay for them).
bench_fixtures=(
  "etcd-benchmark etcd-benchmark .                                   go.etcd.io/etcd/v3"
)

# Built in GOPATH mode against Debian's etcd 3.4 sources, which are not a module: the 3.4 client as Debian ships it.
# name           package: a folder of testenv/ (built with the tag etcd34), or a package of Debian's sources
debian_fixtures=(
  "goclient-3.4    goclient"
  "etcd-runner-3.4 go.etcd.io/etcd/functional/cmd/etcd-runner"
)
debian_package=golang-etcd-server-dev
debian_gopath=/usr/share/gocode
# etcd 3.4 has client/v3's API under the import paths of its single module; our sources use 3.7's.
debian_imports=(-e 's#"go.etcd.io/etcd/client/v3#"go.etcd.io/etcd/clientv3#'
  -e 's#"go.etcd.io/etcd/api/v3/mvccpb"#"go.etcd.io/etcd/mvcc/mvccpb"#')

# kube's own build stamps the version into the binary (hack/lib/version.sh); kube-apiserver reports it on
# /version and clients read it, so do the same.
kube_ldflags() {
  local v=$1 major minor
  major=${v#v}; major=${major%%.*}
  minor=${v#v*.}; minor=${minor%%.*}
  local f
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    f+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$f"
}

# Which fixtures: all of the tests' (the two lists above) without arguments, else exactly the named ones.
selected() { # name
  (($# == 0)) && return 1
  local n
  for n in "${wanted[@]}"; do [ "$n" = "$1" ] && return 0; done
  return 1
}
wanted=("$@")
if ((${#wanted[@]})); then
  known=" $(printf '%s\n' "${fixtures[@]}" "${bench_fixtures[@]}" "${debian_fixtures[@]}" | awk '{printf "%s ", $1}')"
  for n in "${wanted[@]}"; do
    [[ $known == *" $n "* ]] || { echo "testenv/build.sh: no fixture $n (known:$known)" >&2; exit 2; }
  done
  go_fixtures=("${fixtures[@]}" "${bench_fixtures[@]}")
else
  go_fixtures=("${fixtures[@]}")
fi
wants() { # name: built in this run?
  ((${#wanted[@]} == 0)) || selected "$1"
}

# A fixture folder may hold *.patch files: unified diffs (-p1) against the module that names its binary. They are
# applied to a copy of that module (Go refuses -overlay into its module cache), which a go.mod of the build's own,
# the fixture's plus a replace directive, builds against; the module cache stays as downloaded. Prints the -modfile
# to pass, or nothing.
patched_modfile() { # src mod version out
  local src=$1 mod=$2 version=$3 out=$4 patches moddir f
  patches=$(ls "$src"/*.patch 2>/dev/null) || return 0
  (cd "$src" && go mod download "$mod@$version")
  moddir=$(cd "$src" && go list -m -f '{{.Dir}}' "$mod")
  mkdir -p "$out"
  cp -r "$moddir" "$out/module"
  chmod -R u+w "$out/module"
  for f in $patches; do patch -s -p1 -d "$out/module" <"$f" >&2; done
  cp "$src/go.mod" "$src/go.sum" "$out/"
  echo "replace $mod => $out/module" >>"$out/go.mod"
  echo "$out/go.mod"
}

for line in "${go_fixtures[@]}"; do
  read -r name dir pkg mod <<<"$line"
  wants "$name" || continue
  src="$here/$dir"
  version=$(awk -v m="$mod" '$1 == m || ($1 == "require" && $2 == m) { print ($1 == m ? $2 : $3); exit }' "$src/go.mod")
  [ -n "$version" ] || { echo "testenv/build.sh: $src/go.mod does not require $mod" >&2; exit 1; }
  # The key changes with the module's files and the Go version, so an edit or a new toolchain rebuilds.
  key=$( (cd "$src" && cat go.mod go.sum $(ls *.go *.patch 2>/dev/null); go env GOVERSION) | sha256sum | cut -c1-12)
  out="$cache/$name-$version-$key"
  if [ ! -x "$out/$name" ]; then
    ldflags="-s -w"
    [ "$mod" = k8s.io/kubernetes ] && ldflags+=$(kube_ldflags "$version")
    echo "testenv/build.sh: building $name $version (first time only; kube-apiserver takes minutes)" >&2
    start=$(date +%s)
    rm -rf "$out.src"
    modfile=$(patched_modfile "$src" "$mod" "$version" "$out.src")
    (cd "$src" && go build -trimpath ${modfile:+-modfile="$modfile"} -ldflags="$ldflags" -o "$out.tmp/$name" "$pkg")
    rm -rf "$out.src"
    mv "$out.tmp" "$out"
    echo "testenv/build.sh: built $name in $(( $(date +%s) - start )) s" >&2
  fi
  ln -sfn "$out/$name" "$here/bin/$name"
done

debian_wanted=0
for line in "${debian_fixtures[@]}"; do
  read -r name _ <<<"$line"
  wants "$name" && debian_wanted=1
done
((debian_wanted)) || exit 0
[ -d "$debian_gopath/src/go.etcd.io/etcd/clientv3" ] \
  || { echo "testenv/build.sh: install Debian's $debian_package (scripts/test.sh does)" >&2; exit 1; }
debian_version=$(dpkg-query -W -f='${Version}' "$debian_package")
for line in "${debian_fixtures[@]}"; do
  read -r name pkg <<<"$line"
  wants "$name" || continue
  src="$here/$pkg"
  key=$( ([ -d "$src" ] && cd "$src" && cat $(ls *.go); echo "$pkg"; go env GOVERSION) | sha256sum | cut -c1-12)
  out="$cache/$name-deb$debian_version-$key"
  if [ ! -x "$out/$name" ]; then
    echo "testenv/build.sh: building $name from Debian's $debian_package $debian_version" >&2
    start=$(date +%s)
    dir=$(mktemp -d)
    if [ -d "$src" ]; then
      cp "$src"/*.go "$dir/"
      sed -i "${debian_imports[@]}" "$dir"/*.go
      pkg=.
    fi
    (cd "$dir" && GO111MODULE=off GOPATH="$debian_gopath" GOFLAGS= \
      go build -trimpath -tags etcd34 -ldflags="-s -w" -o "$out.tmp/$name" "$pkg")
    rm -rf "$dir"
    mv "$out.tmp" "$out"
    echo "testenv/build.sh: built $name in $(( $(date +%s) - start )) s" >&2
  fi
  ln -sfn "$out/$name" "$here/bin/$name"
done
