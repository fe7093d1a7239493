package main

import (
	"context"
	"fmt"
	"sort"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func init() {
	scenarios["lease"] = leaseScenario
}

// leaseScenario: grant, keys attached to a lease (governed and not), keep-alive once and as a stream, time-to-live
// with keys, the lease list, revoke, expiry seen by a watch, and etcd's errors for unknown leases.
func leaseScenario(ctx context.Context, e *env) {
	c, t := e.client, e.t
	g, u := governed+"go-lease/", ungoverned+"lease/"

	grant := must(c.Grant(ctx, 60))
	t.printf("granted ttl=%d", grant.TTL)
	id := grant.ID
	t.put(c.Put(ctx, g+"k", "leased secret", clientv3.WithLease(id)))
	t.put(c.Put(ctx, u+"k", "leased plain", clientv3.WithLease(id)))
	t.get(c.Get(ctx, g+"k"))

	once := must(c.KeepAliveOnce(ctx, id))
	t.printf("keep-alive once ttl=%d same lease=%v", once.TTL, once.ID == id)
	kctx, stopKeepAlive := context.WithCancel(ctx)
	stream := must(c.KeepAlive(kctx, id))
	select {
	case r := <-stream:
		t.printf("keep-alive stream ttl=%d same lease=%v", r.TTL, r.ID == id)
	case <-ctx.Done():
		check(ctx.Err())
	}
	stopKeepAlive()

	ttl := must(c.TimeToLive(ctx, id, clientv3.WithAttachedKeys()))
	t.printf("time-to-live granted=%d remaining within it=%v keys=%s", ttl.GrantedTTL, ttl.TTL > 0 && ttl.TTL <= 60,
		sortedKeys(ttl.Keys))
	listed := false
	for _, l := range must(c.Leases(ctx)).Leases {
		listed = listed || l.ID == id
	}
	t.printf("listed=%v", listed)

	revoke := must(c.Revoke(ctx, id))
	t.printf("revoked rev=%s", t.rev(revoke.Header.Revision))
	t.get(c.Get(ctx, g+"k"))
	t.get(c.Get(ctx, u+"k"))
	gone := must(c.TimeToLive(ctx, id))
	t.printf("time-to-live after revoke ttl=%d", gone.TTL)
	_, err := c.KeepAliveOnce(ctx, id)
	t.printf("keep-alive once after revoke: %s", errText(err))
	_, err = c.Revoke(ctx, id)
	t.printf("revoke again: %s", errText(err))
	t.put(c.Put(ctx, g+"no-lease", "v", clientv3.WithLease(clientv3.LeaseID(0x1234))))

	// The shortest lease etcd grants expires while a watch waits for the delete it causes.
	short := must(c.Grant(ctx, 1))
	t.printf("granted ttl=%d for 1", short.TTL)
	put := must(c.Put(ctx, g+"expiring", "short-lived", clientv3.WithLease(short.ID)))
	w := watch(ctx, c, g+"expiring", clientv3.WithRev(put.Header.Revision+1), clientv3.WithPrevKV())
	t.events(ctx, w.ch, 1)
	w.stop()
}

// sortedKeys shows a lease's attached keys in order: etcd lists them in no particular one.
func sortedKeys(keys [][]byte) string {
	s := make([]string, len(keys))
	for i, k := range keys {
		s[i] = string(k)
	}
	sort.Strings(s)
	return fmt.Sprintf("%q", s)
}
