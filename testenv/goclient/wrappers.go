package main

import (
	"context"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/leasing"
	"go.etcd.io/etcd/client/v3/namespace"
)

func init() {
	scenarios["leasing"] = leasingScenario
	scenarios["namespace"] = namespaceScenario
}

// leasingScenario: two leasing KVs (their lease keys under a governed prefix): cached reads, a write by the other
// that rescinds the first one's lease, a guarded transaction and a delete, each seen by both.
func leasingScenario(ctx context.Context, e *env) {
	t := e.t
	leases, k := governed+"go-leasing-leases/", governed+"go-leasing/k"
	one, closeOne := newLeasingKV(e, leases)
	two, closeTwo := newLeasingKV(e, leases)

	t.put(one.Put(ctx, k, "v1"))
	t.get(one.Get(ctx, k))
	t.get(one.Get(ctx, k))
	t.printf("lease keys after a leased read=%d", count(ctx, e, leases))
	t.put(two.Put(ctx, k, "v2"))
	t.printf("lease keys after the other's write=%d", count(ctx, e, leases))
	t.get(one.Get(ctx, k))
	t.get(two.Get(ctx, k))
	mod := must(e.client.Get(ctx, k)).Kvs[0].ModRevision
	t.txn(one.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(k), "=", mod)).
		Then(clientv3.OpPut(k, "v3"), clientv3.OpGet(k)).Commit())
	t.get(two.Get(ctx, k))
	t.del(two.Delete(ctx, k, clientv3.WithPrevKV()))
	t.get(one.Get(ctx, k))
	closeOne()
	closeTwo()
	t.get(e.client.Get(ctx, k))
}

func newLeasingKV(e *env, prefix string) (clientv3.KV, func()) {
	kv, closeKV, err := leasing.NewKV(e.newClient(), prefix)
	check(err)
	return kv, closeKV
}

func count(ctx context.Context, e *env, prefix string) int64 {
	return must(e.client.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())).Count
}

// namespaceScenario: the namespace wrappers of KV, Watcher and Lease on a governed and an ungoverned prefix: keys
// come back without it, ranges stay inside it, and the stored keys carry it.
func namespaceScenario(ctx context.Context, e *env) {
	c, t := e.client, e.t
	for _, p := range []string{governed + "go-namespace/", ungoverned + "namespace/"} {
		t.printf("-- namespace %s", p)
		start := must(c.Get(ctx, "goclient-next")).Header.Revision + 1
		kv, w, l := namespace.NewKV(c.KV, p), namespace.NewWatcher(c.Watcher, p), namespace.NewLease(c.Lease, p)
		t.put(kv.Put(ctx, "a", "1"))
		t.put(kv.Put(ctx, "b", "2", clientv3.WithPrevKV()))
		t.put(kv.Put(ctx, "b", "2b", clientv3.WithPrevKV()))
		t.get(kv.Get(ctx, "", clientv3.WithPrefix()))
		t.get(kv.Get(ctx, "a", clientv3.WithRange("b")))
		t.get(kv.Get(ctx, "b", clientv3.WithFromKey()))
		t.txn(kv.Txn(ctx).If(clientv3.Compare(clientv3.Version("b"), "=", 2)).
			Then(clientv3.OpPut("a", "1b", clientv3.WithPrevKV()), clientv3.OpGet("", clientv3.WithPrefix())).
			Commit())

		ws := watch(ctx, w, "", clientv3.WithPrefix(), clientv3.WithRev(start), clientv3.WithPrevKV())
		t.events(ctx, ws.ch, 4)
		ws.stop()

		lease := must(l.Grant(ctx, 60))
		must(kv.Put(ctx, "leased", "v", clientv3.WithLease(lease.ID)))
		t.printf("lease keys=%s", sortedKeys(must(l.TimeToLive(ctx, lease.ID, clientv3.WithAttachedKeys())).Keys))
		must(l.Revoke(ctx, lease.ID))

		t.get(c.Get(ctx, p, clientv3.WithPrefix(), clientv3.WithKeysOnly()))
		t.del(kv.Delete(ctx, "", clientv3.WithPrefix(), clientv3.WithPrevKV()))
	}
}
