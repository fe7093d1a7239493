package main

import (
	"context"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func init() {
	scenarios["value-compare"] = valueCompareScenario
}

// valueCompareScenario: what etcd compares or sorts by stored value, on governed keys: Txn compares on VALUE (one
// key and a prefix) and Range sorted by VALUE. Through a proxy that stores ciphertext these need its own handling.
func valueCompareScenario(ctx context.Context, e *env) {
	c, t := e.client, e.t
	p := governed + "go-value-compare/"
	for i, v := range []string{"pear", "apple", "fig", "banana"} {
		must(c.Put(ctx, p+string(rune('a'+i)), v))
	}
	t.txn(c.Txn(ctx).If(clientv3.Compare(clientv3.Value(p+"a"), "=", "pear")).
		Then(clientv3.OpPut(p+"a", "pear-2", clientv3.WithPrevKV())).Else(clientv3.OpGet(p + "a")).Commit())
	t.txn(c.Txn(ctx).If(clientv3.Compare(clientv3.Value(p+"a"), "=", "pear")).
		Then(clientv3.OpPut(p+"a", "pear-3")).Else(clientv3.OpGet(p + "a")).Commit())
	t.txn(c.Txn(ctx).If(clientv3.Compare(clientv3.Value(p+"b"), "<", "b"), clientv3.Compare(clientv3.Value(p+"c"), "!=", "x")).
		Then(clientv3.OpGet(p, clientv3.WithPrefix())).Commit())
	t.txn(c.Txn(ctx).If(clientv3.Compare(clientv3.Value(p), ">", "a").WithPrefix()).
		Then(clientv3.OpGet(p, clientv3.WithPrefix(), clientv3.WithCountOnly())).Else(clientv3.OpGet(p + "b")).Commit())
	t.get(c.Get(ctx, p, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByValue, clientv3.SortAscend)))
	t.get(c.Get(ctx, p, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByValue, clientv3.SortDescend),
		clientv3.WithLimit(2)))
}
