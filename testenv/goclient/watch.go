package main

import (
	"context"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func init() {
	scenarios["watch"] = watchScenario
	scenarios["watch-large"] = watchLargeScenario
	scenarios["compaction"] = compactionScenario
}

// watchScenario: watches from history with prev_kv on a governed and an ungoverned prefix, a created
// notification, live events, a requested progress notification, a filter, and a cancelled watch.
func watchScenario(ctx context.Context, e *env) {
	c, t := e.client, e.t
	g, u := governed+"go-watch/", ungoverned+"watch/"
	start := t.base + 1
	for _, p := range []string{g, u} {
		must(c.Put(ctx, p+"a", "1"))
		must(c.Put(ctx, p+"a", "2"))
		must(c.Put(ctx, p+"b", "3"))
		must(c.Delete(ctx, p+"a"))
	}
	for _, p := range []string{g, u} {
		t.printf("-- history of %s", p)
		w := watch(ctx, c, p, clientv3.WithPrefix(), clientv3.WithRev(start), clientv3.WithPrevKV())
		t.events(ctx, w.ch, 4)
		w.stop()
	}

	t.printf("-- live, with progress notify")
	w := watch(ctx, c, g, clientv3.WithPrefix(), clientv3.WithCreatedNotify(), clientv3.WithProgressNotify(),
		clientv3.WithPrevKV())
	created := w.next(ctx)
	t.printf("created=%v rev=%s events=%d", created.Created, t.rev(created.Header.Revision), len(created.Events))
	must(c.Put(ctx, g+"b", "live"))
	must(c.Put(ctx, u+"b", "not watched"))
	must(c.Put(ctx, g+"c", "live too"))
	t.events(ctx, w.ch, 2)
	check(w.requestProgress(c))
	progress := w.next(ctx)
	t.printf("progress=%v rev=%s events=%d", progress.IsProgressNotify(), t.rev(progress.Header.Revision),
		len(progress.Events))
	w.stop()

	t.printf("-- deletes only, from history")
	w = watch(ctx, c, g, clientv3.WithPrefix(), clientv3.WithRev(start), clientv3.WithFilterPut())
	t.events(ctx, w.ch, 1)
	w.stop()

	t.printf("-- one key, from history, until cancelled")
	w = watch(ctx, c, g+"b", clientv3.WithRev(start))
	t.events(ctx, w.ch, 2)
	w.cancel()
	t.printf("closed after cancel: %v", w.closed(ctx))
}

// watchLargeScenario: a watch from history over values that together exceed etcd's request limit (1.5 MiB), once
// fragmented (WithFragment: etcd splits the response, the client joins it) and once whole.
func watchLargeScenario(ctx context.Context, e *env) {
	c, t := e.client, e.t
	g := governed + "go-watch-large/"
	start := t.base + 1
	for i := 0; i < 4; i++ {
		must(c.Put(ctx, fmt.Sprintf("%s%d", g, i), strings.Repeat(fmt.Sprintf("%d", i), 600*1024)))
	}
	for _, opts := range [][]clientv3.OpOption{{clientv3.WithFragment()}, {}} {
		w := watch(ctx, c, g, append(opts, clientv3.WithPrefix(), clientv3.WithRev(start))...)
		t.events(ctx, w.ch, 4)
		w.stop()
	}
}

// compactionScenario: Compact itself (done, repeated, future) and what reads and watches of compacted revisions get.
func compactionScenario(ctx context.Context, e *env) {
	c, t := e.client, e.t
	g := governed + "go-compaction/"
	old := must(c.Put(ctx, g+"k", "before")).Header.Revision
	now := must(c.Put(ctx, g+"k", "after")).Header.Revision
	t.compact(c.Compact(ctx, now))
	t.compact(c.Compact(ctx, now))
	t.compact(c.Compact(ctx, now+1000))
	t.get(c.Get(ctx, g+"k", clientv3.WithRev(old)))
	t.get(c.Get(ctx, g+"k", clientv3.WithRev(now)))

	w := watch(ctx, c, g+"k", clientv3.WithRev(old))
	r := w.next(ctx)
	t.printf("watch from a compacted revision: canceled=%v compact=%s events=%d %s", r.Canceled,
		t.rev(r.CompactRevision), len(r.Events), errText(r.Err()))
	t.printf("closed: %v", w.closed(ctx))
	w.stop()

	w = watch(ctx, c, g+"k", clientv3.WithRev(now), clientv3.WithPrevKV())
	t.events(ctx, w.ch, 1)
	w.stop()
}

// activeWatch is a watch with its own cancel, so a scenario can end it and see the channel close.
type activeWatch struct {
	ch     clientv3.WatchChan
	ctx    context.Context
	cancel context.CancelFunc
}

// watch starts a watch that requires a leader, as kube-apiserver's do (the "hasleader" metadata must reach etcd).
func watch(ctx context.Context, c clientv3.Watcher, key string, opts ...clientv3.OpOption) *activeWatch {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	return &activeWatch{ch: c.Watch(wctx, key, opts...), ctx: wctx, cancel: cancel}
}

// requestProgress asks for a progress notification on this watch's stream: the client keys its streams by the
// context's metadata, so the request must carry the watch's.
func (w *activeWatch) requestProgress(c clientv3.Watcher) error {
	return c.RequestProgress(w.ctx)
}

// next is the watch's next response; a closed channel or the scenario's end fails the scenario.
func (w *activeWatch) next(ctx context.Context) clientv3.WatchResponse {
	select {
	case r, ok := <-w.ch:
		if !ok {
			check(fmt.Errorf("watch closed before its next response"))
		}
		return r
	case <-ctx.Done():
		check(fmt.Errorf("no watch response: %w", ctx.Err()))
	}
	panic("unreachable")
}

// closed says whether the channel ends (after whatever responses were still on their way) within the scenario.
func (w *activeWatch) closed(ctx context.Context) bool {
	for {
		select {
		case _, ok := <-w.ch:
			if !ok {
				return true
			}
		case <-ctx.Done():
			return false
		}
	}
}

func (w *activeWatch) stop() {
	w.cancel()
}
