// Command goclient runs named scenarios of etcd's Go client (clientv3 and its concurrency, leasing and namespace
// packages) against one endpoint and prints a transcript that must come out the same whether the endpoint is etcd
// itself or etcd-crypt-proxy in front of a fresh etcd: values, events and errors (gRPC code and message), revisions
// relative to the scenario's start, and nothing that differs between two runs (lease IDs, timings, retries).
//
//	goclient -endpoint 127.0.0.1:2379 kv txn watch ...
//
// testenv/build.sh builds it twice from the same sources: against client/v3 v3.7.4 from the Go module proxy
// (goclient-3.7) and against Debian's etcd 3.4 sources (goclient-3.4). A test fixture only.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// scenario runs one named sequence of client calls and records what the client observed.
type scenario func(ctx context.Context, e *env)

// scenarios maps each name to its scenario; files add theirs from init (the 3.7-only ones only in that build).
var scenarios = map[string]scenario{}

// scenarioLimit bounds a whole scenario, so a proxy that loses a response fails the run instead of hanging it.
const scenarioLimit = 60 * time.Second

// env is what a scenario works with: the endpoint, a client of it, and the transcript.
type env struct {
	endpoint string
	client   *clientv3.Client
	t        *transcript

	mu     sync.Mutex
	closes []func() // run when the scenario ends, last first
}

// newClient connects another client to the endpoint (its own connection, as separate processes would have);
// it is closed when the scenario ends.
func (e *env) newClient() *clientv3.Client {
	c := must(clientv3.New(clientv3.Config{Endpoints: []string{e.endpoint}, DialTimeout: 10 * time.Second}))
	e.atEnd(func() { c.Close() })
	return c
}

// atEnd has release run when the scenario ends; safe from the goroutines of concurrent scenarios.
func (e *env) atEnd(release func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closes = append(e.closes, release)
}

func (e *env) end() {
	for i := len(e.closes) - 1; i >= 0; i-- {
		e.closes[i]()
	}
}

func main() {
	endpoint := flag.String("endpoint", "127.0.0.1:2379", "etcd (or proxy) client endpoint, host:port")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: goclient [-endpoint host:port] scenario...\nscenarios: %s\n", names())
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	for _, name := range flag.Args() {
		if scenarios[name] == nil {
			fmt.Fprintf(os.Stderr, "goclient: no scenario %q; scenarios: %s\n", name, names())
			os.Exit(2)
		}
	}
	for _, name := range flag.Args() {
		if !run(*endpoint, name) {
			os.Exit(1)
		}
	}
}

// run runs one scenario with its own client and prints its transcript under a "== name" line; a step that fails
// outside the transcript ends it with a FATAL line and false.
func run(endpoint, name string) (ok bool) {
	fmt.Printf("== %s\n", name)
	ctx, cancel := context.WithTimeout(context.Background(), scenarioLimit)
	defer cancel()
	e := &env{endpoint: endpoint, t: &transcript{w: os.Stdout}}
	defer e.end()
	defer func() {
		if r := recover(); r != nil {
			fmt.Printf("FATAL %s: %v\n", name, r)
			ok = false
		}
	}()
	e.client = e.newClient()
	e.t.base = must(e.client.Get(ctx, "goclient-start")).Header.Revision
	scenarios[name](ctx, e)
	return true
}

func names() string {
	var all []string
	for n := range scenarios {
		all = append(all, n)
	}
	sort.Strings(all)
	return strings.Join(all, " ")
}

// stepFailed is the panic value of a step that the transcript does not record: the scenario cannot go on.
type stepFailed struct{ err error }

func (s stepFailed) String() string { return s.err.Error() }

// must returns v, or ends the scenario when err is not nil.
func must[T any](v T, err error) T {
	check(err)
	return v
}

func check(err error) {
	if err != nil {
		panic(stepFailed{err})
	}
}
