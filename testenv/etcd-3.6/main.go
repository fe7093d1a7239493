// Command etcd is etcd's own server of release 3.6, built from its published Go module, for tests only.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
