package main

import (
	"context"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// The proxy under test encrypts the values of Secrets (/registry/secrets/) and passes everything else through, so
// the scenarios work on a governed prefix and an ungoverned one alike.
const (
	governed   = "/registry/secrets/"
	ungoverned = "/goclient/"
)

func init() {
	scenarios["kv"] = kvScenario
	scenarios["txn"] = txnScenario
}

// kvScenario: puts (prev_kv, empty, binary and large values, ignore_value), gets of every shape (prefix, range,
// from-key, limit, each sort target but VALUE, keys-only, count-only, history, future, serializable, revision
// filters) and deletes, on a governed and an ungoverned prefix.
func kvScenario(ctx context.Context, e *env) {
	c, t := e.client, e.t
	for _, p := range []string{governed + "go-kv/", ungoverned + "kv/"} {
		t.printf("-- prefix %s", p)
		t.put(c.Put(ctx, p+"a", "alpha"))
		first := t.base + 1
		t.put(c.Put(ctx, p+"a", "alpha-2", clientv3.WithPrevKV()))
		t.put(c.Put(ctx, p+"b", "beta"))
		t.put(c.Put(ctx, p+"c", ""))
		t.put(c.Put(ctx, p+"d", "\x00\xff binary \x01"))
		t.put(c.Put(ctx, p+"e", strings.Repeat("large value ", 20000)))

		t.get(c.Get(ctx, p+"a"))
		t.get(c.Get(ctx, p+"missing"))
		t.get(c.Get(ctx, p, clientv3.WithPrefix()))
		t.get(c.Get(ctx, p, clientv3.WithPrefix(), clientv3.WithLimit(2)))
		t.get(c.Get(ctx, p, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend)))
		t.get(c.Get(ctx, p, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByModRevision, clientv3.SortDescend),
			clientv3.WithLimit(3)))
		t.get(c.Get(ctx, p, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend)))
		t.get(c.Get(ctx, p, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByVersion, clientv3.SortDescend)))
		t.get(c.Get(ctx, p, clientv3.WithPrefix(), clientv3.WithKeysOnly()))
		t.get(c.Get(ctx, p, clientv3.WithPrefix(), clientv3.WithCountOnly()))
		t.get(c.Get(ctx, p+"b", clientv3.WithRange(p+"d")))
		t.get(c.Get(ctx, p+"c", clientv3.WithFromKey(), clientv3.WithLimit(2)))
		t.get(c.Get(ctx, p+"a", clientv3.WithRev(first)))
		t.get(c.Get(ctx, p, clientv3.WithPrefix(), clientv3.WithRev(first+2)))
		t.get(c.Get(ctx, p+"a", clientv3.WithRev(first+1000)))
		t.get(c.Get(ctx, p, clientv3.WithPrefix(), clientv3.WithSerializable()))
		t.get(c.Get(ctx, p, clientv3.WithPrefix(), clientv3.WithMinModRev(first+2), clientv3.WithMaxModRev(first+4)))
		t.get(c.Get(ctx, p, clientv3.WithPrefix(), clientv3.WithMinCreateRev(first+3)))

		// ignore_value keeps the stored value (ciphertext, through the proxy) and bumps only the revision.
		t.put(c.Put(ctx, p+"a", "", clientv3.WithIgnoreValue()))
		t.get(c.Get(ctx, p+"a"))
		t.put(c.Put(ctx, p+"nothing-here", "", clientv3.WithIgnoreValue()))

		t.del(c.Delete(ctx, p+"a", clientv3.WithPrevKV()))
		t.del(c.Delete(ctx, p+"missing"))
		t.del(c.Delete(ctx, p+"b", clientv3.WithRange(p+"d"), clientv3.WithPrevKV()))
		t.del(c.Delete(ctx, p, clientv3.WithPrefix(), clientv3.WithPrevKV()))
		t.get(c.Get(ctx, p, clientv3.WithPrefix()))
		t.base = must(c.Get(ctx, "goclient-next")).Header.Revision
	}
	// Sorting by value compares what etcd stores: on plaintext keys etcd's order is the answer.
	p := ungoverned + "kv-sort/"
	for i, v := range []string{"pear", "apple", "fig", "banana"} {
		must(c.Put(ctx, p+string(rune('a'+i)), v))
	}
	t.get(c.Get(ctx, p, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByValue, clientv3.SortAscend)))
	t.get(c.Get(ctx, p, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByValue, clientv3.SortDescend),
		clientv3.WithLimit(2)))
}

// txnScenario: kube-apiserver's create-if-absent and guarded update, every compare target but VALUE on governed
// keys (value compares on plaintext keys), ranges in compares, nested transactions, both branches, and etcd's own
// errors.
func txnScenario(ctx context.Context, e *env) {
	c, t := e.client, e.t
	g, u := governed+"go-txn/", ungoverned+"txn/"
	k := g + "k"

	create := func() {
		t.txn(c.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(k), "=", 0)).
			Then(clientv3.OpPut(k, "created")).
			Else(clientv3.OpGet(k)).
			Commit())
	}
	create()
	create()
	mod := must(c.Get(ctx, k)).Kvs[0].ModRevision
	t.txn(c.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(k), "=", mod)).
		Then(clientv3.OpPut(k, "updated", clientv3.WithPrevKV()),
			clientv3.OpTxn(
				[]clientv3.Cmp{clientv3.Compare(clientv3.Version(g+"other"), "=", 0)},
				[]clientv3.Op{clientv3.OpPut(g+"other", "nested"), clientv3.OpGet(g, clientv3.WithPrefix())},
				nil)).
		Else(clientv3.OpGet(k)).
		Commit())
	t.txn(c.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(k), "=", mod)).
		Then(clientv3.OpPut(k, "stale write")).
		Else(clientv3.OpGet(k), clientv3.OpGet(g, clientv3.WithPrefix(), clientv3.WithKeysOnly())).
		Commit())
	t.txn(c.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), "<", mod+10),
			clientv3.Compare(clientv3.Version(k), ">", 1),
			clientv3.Compare(clientv3.LeaseValue(k), "=", clientv3.NoLease)).
		Then(clientv3.OpDelete(g+"other", clientv3.WithPrevKV()), clientv3.OpGet(g, clientv3.WithPrefix())).
		Commit())
	t.txn(c.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(g), ">", 0).WithPrefix()).
		Then(clientv3.OpGet(g, clientv3.WithPrefix(), clientv3.WithCountOnly())).
		Commit())

	// Value compares on keys the proxy does not govern go to etcd as they are.
	must(c.Put(ctx, u+"v", "plain"))
	t.txn(c.Txn(ctx).
		If(clientv3.Compare(clientv3.Value(u+"v"), "=", "plain")).
		Then(clientv3.OpPut(u+"v", "plain-2", clientv3.WithPrevKV()), clientv3.OpPut(k, "beside a value compare")).
		Commit())
	t.txn(c.Txn(ctx).
		If(clientv3.Compare(clientv3.Value(u), ">", "a").WithPrefix()).
		Then(clientv3.OpGet(u, clientv3.WithPrefix())).
		Else(clientv3.OpGet(k)).
		Commit())

	// etcd's own refusals come through as etcd words them.
	t.txn(c.Txn(ctx).Then(clientv3.OpPut(g+"dup", "1"), clientv3.OpPut(g+"dup", "2")).Commit())
	t.txn(c.Txn(ctx).Then(clientv3.OpPut(g+"x", "1"), clientv3.OpDelete(g, clientv3.WithPrefix())).Commit())
	t.txn(c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(k), ">", 0)).
		Then(clientv3.OpGet(k, clientv3.WithRev(mod+1000))).Commit())
	t.txn(c.Txn(ctx).Then(clientv3.OpDelete(g, clientv3.WithPrefix(), clientv3.WithPrevKV())).Commit())
}
