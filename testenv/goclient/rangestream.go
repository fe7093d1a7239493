//go:build !etcd34

package main

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// KV.GetStream (etcd 3.7's KV/RangeStream) exists only in client/v3 3.7: the 3.4 build leaves this file out.
func init() {
	scenarios["rangestream"] = rangeStreamScenario
}

// streamKeys is enough keys for several chunks: etcd 3.7 sends 10 keys, then 20, then 40, ...
const streamKeys = 45

// rangeStreamScenario: GetStream over a governed and an ungoverned prefix, chunk by chunk and merged as the client
// merges it, which must equal a plain Get of the same range; with a limit, at an older revision, keys only and
// count only; and at a compacted revision.
func rangeStreamScenario(ctx context.Context, e *env) {
	c, t := e.client, e.t
	for _, p := range []string{governed + "go-stream/", ungoverned + "stream/"} {
		for i := 0; i < streamKeys; i++ {
			must(c.Put(ctx, fmt.Sprintf("%s%02d", p, i), fmt.Sprintf("value %02d of %s", i, p)))
		}
	}
	middle := must(c.Get(ctx, "goclient-next")).Header.Revision
	for _, p := range []string{governed + "go-stream/", ungoverned + "stream/"} {
		must(c.Put(ctx, p+"00", "changed"))
		t.printf("-- prefix %s", p)
		chunks(ctx, e, p, clientv3.WithPrefix())
		for _, opts := range [][]clientv3.OpOption{
			{clientv3.WithPrefix()},
			{clientv3.WithPrefix(), clientv3.WithLimit(25)},
			{clientv3.WithPrefix(), clientv3.WithRev(middle)},
			{clientv3.WithPrefix(), clientv3.WithKeysOnly()},
			{clientv3.WithPrefix(), clientv3.WithCountOnly()},
			{clientv3.WithRange(p + "30")},
		} {
			streamed, err := clientv3.GetStreamToGetResponse(must(c.GetStream(ctx, p, opts...)))
			if err != nil {
				t.printf("stream %s", errText(err))
				continue
			}
			got := must(c.Get(ctx, p, opts...))
			t.printf("stream equals get=%v: %s", t.getText(streamed) == t.getText(got), t.getText(streamed))
		}
	}
	now := must(c.Get(ctx, "goclient-next")).Header.Revision
	must(c.Compact(ctx, now))
	_, err := clientv3.GetStreamToGetResponse(must(c.GetStream(ctx, governed+"go-stream/", clientv3.WithPrefix(),
		clientv3.WithRev(middle))))
	t.printf("stream of a compacted revision: %s", errText(err))
}

// chunks prints each chunk of a stream as it arrived: how many keys, the first and last of them, and the header.
func chunks(ctx context.Context, e *env, key string, opts ...clientv3.OpOption) {
	t := e.t
	n := 0
	for r := range must(e.client.GetStream(ctx, key, opts...)) {
		check(r.Err())
		n++
		kvs := r.RangeResponse.Kvs
		first, last := "-", "-"
		if len(kvs) > 0 {
			first, last = string(kvs[0].Key), string(kvs[len(kvs)-1].Key)
		}
		header := "none"
		if r.RangeResponse.Header != nil {
			header = t.rev(r.RangeResponse.Header.Revision)
		}
		t.printf("chunk %d: keys=%d %s..%s count=%d more=%v header=%s", n, len(kvs), first, last,
			r.RangeResponse.Count, r.RangeResponse.More, header)
	}
}
