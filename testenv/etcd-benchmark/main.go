// Command etcd-benchmark is etcd's own load generator, tools/benchmark of release 3.6 (its main.go, as published in
// the module go.etcd.io/etcd/v3), for bench/etcd-benchmark.sh only. key-prefix.patch adds --key-prefix to it.
package main

import (
	"fmt"
	"os"

	"go.etcd.io/etcd/v3/tools/benchmark/cmd"
)

func main() {
	if err := cmd.RootCmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(-1)
	}
}
