// Command etcd-runner is etcd's own client stress tool (election, lock-racer, lease-renewer, watcher) of release
// 3.5, built from its published Go module, for tests only. Later releases no longer ship it.
package main

import "go.etcd.io/etcd/tests/v3/functional/runner"

func main() { runner.Start() }
