package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

func init() {
	scenarios["mutex"] = mutexScenario
	scenarios["election"] = electionScenario
	scenarios["stm"] = stmScenario
}

// Concurrent scenarios print only what no interleaving changes: final counts and sums.
const (
	workers = 4
	rounds  = 10
)

func (e *env) newSession() *concurrency.Session {
	s := must(concurrency.NewSession(e.newClient(), concurrency.WithTTL(30)))
	e.atEnd(func() { s.Close() })
	return s
}

// parallel runs body(worker) on every worker at once and waits for all; a failed step in any fails the scenario.
func parallel(body func(worker int)) {
	var wg sync.WaitGroup
	failures := make(chan any, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					failures <- r
				}
			}()
			body(w)
		}(w)
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		panic(f)
	}
}

// mutexScenario: a Mutex on a governed prefix excludes a second session, and workers incrementing a governed
// counter under it (read, then write guarded by ownership) end with exactly workers×rounds.
func mutexScenario(ctx context.Context, e *env) {
	t := e.t
	lock, counter := governed+"go-mutex/lock", governed+"go-mutex/counter"
	a, b := concurrency.NewMutex(e.newSession(), lock), concurrency.NewMutex(e.newSession(), lock)
	check(a.Lock(ctx))
	t.printf("a locked rev=%s", t.rev(a.Header().Revision))
	wait, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	t.printf("b while a holds: %s", errText(b.Lock(wait)))
	cancel()
	check(a.Unlock(ctx))
	check(b.Lock(ctx))
	t.printf("b locked after a unlocked")
	check(b.Unlock(ctx))

	must(e.client.Put(ctx, counter, "0"))
	var mu sync.Mutex
	notOwner := 0
	parallel(func(w int) {
		m := concurrency.NewMutex(e.newSession(), lock)
		c := e.newClient()
		for r := 0; r < rounds; r++ {
			check(m.Lock(ctx))
			n := must(strconv.Atoi(string(must(c.Get(ctx, counter)).Kvs[0].Value)))
			put := must(c.Txn(ctx).If(m.IsOwner()).Then(clientv3.OpPut(counter, strconv.Itoa(n+1))).Commit())
			if !put.Succeeded {
				mu.Lock()
				notOwner++
				mu.Unlock()
			}
			check(m.Unlock(ctx))
		}
	})
	t.get(e.client.Get(ctx, counter, clientv3.WithKeysOnly()))
	t.printf("counter=%s writes without ownership=%d", must(e.client.Get(ctx, counter)).Kvs[0].Value, notOwner)
	t.printf("lock keys left=%d", must(e.client.Get(ctx, lock, clientv3.WithPrefix(), clientv3.WithCountOnly())).Count)
}

// electionScenario: two candidates on a governed prefix and an observer: campaign, proclaim, a waiting candidate
// that wins when the leader resigns, and no leader at the end.
func electionScenario(ctx context.Context, e *env) {
	t := e.t
	name := governed + "go-election"
	a, b := concurrency.NewElection(e.newSession(), name), concurrency.NewElection(e.newSession(), name)
	observer := concurrency.NewElection(e.newSession(), name)
	octx, stopObserving := context.WithCancel(ctx)
	defer stopObserving()
	observed := observer.Observe(octx)
	observe := func() {
		select {
		case r := <-observed:
			t.printf("observed %s", candidate(t, r.Kvs[0]))
		case <-ctx.Done():
			check(ctx.Err())
		}
	}
	leader := func() {
		r, err := observer.Leader(ctx)
		if err != nil {
			t.printf("leader %s", errText(err))
			return
		}
		t.printf("leader %s", candidate(t, r.Kvs[0]))
	}

	check(a.Campaign(ctx, "a-1"))
	t.printf("a leads rev=%s", t.rev(a.Rev()))
	observe()
	leader()
	check(a.Proclaim(ctx, "a-2"))
	observe()
	t.printf("b proclaims without leading: %s", errText(b.Proclaim(ctx, "b-0")))

	campaign := make(chan error, 1)
	go func() { campaign <- b.Campaign(ctx, "b-1") }()
	waitForKeys(ctx, e.client, name+"/", 2) // b's candidacy is in before a resigns
	check(a.Resign(ctx))
	check(<-campaign)
	t.printf("b leads rev=%s", t.rev(b.Rev()))
	observe()
	leader()
	check(b.Resign(ctx))
	leader()
	t.printf("resigned twice: %v", b.Resign(ctx) == nil)
}

// candidate shows an election key's value and revisions; the key itself ends in the candidate's lease ID.
func candidate(t *transcript, kv *mvccpb.KeyValue) string {
	return fmt.Sprintf("%s c=%s m=%s v=%d", value(kv.Value), t.rev(kv.CreateRevision), t.rev(kv.ModRevision), kv.Version)
}

// waitForKeys returns once the prefix holds n keys, watching instead of polling.
func waitForKeys(ctx context.Context, c *clientv3.Client, prefix string, n int64) {
	r := must(c.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly()))
	count := r.Count
	if count >= n {
		return
	}
	w := watch(ctx, c, prefix, clientv3.WithPrefix(), clientv3.WithRev(r.Header.Revision+1))
	defer w.stop()
	for count < n {
		for _, ev := range w.next(ctx).Events {
			if ev.IsCreate() {
				count++
			} else if ev.Type == clientv3.EventTypeDelete {
				count--
			}
		}
	}
}

// stmScenario: software transactional memory at the isolation levels that must serialize: workers moving fixed
// amounts between governed accounts and counting their transactions. Fixed amounts commute, so every balance is
// the same in every interleaving; a lost update or a partial transaction shows in the balances, the sum or the
// count. Plus single transactions: reading a missing key, copying a value, deleting, and a function that fails.
func stmScenario(ctx context.Context, e *env) {
	t := e.t
	levels := []struct {
		name string
		iso  concurrency.Isolation
	}{
		{"serializable-snapshot", concurrency.SerializableSnapshot},
		{"serializable", concurrency.Serializable},
		{"repeatable-reads", concurrency.RepeatableReads},
	}
	const accounts = 5
	for _, level := range levels {
		p := governed + "go-stm/" + level.name + "/"
		account := func(i int) string { return fmt.Sprintf("%saccount-%d", p, i) }
		for i := 0; i < accounts; i++ {
			must(e.client.Put(ctx, account(i), "100"))
		}
		parallel(func(w int) {
			c := e.newClient()
			for r := 0; r < rounds; r++ {
				from, to := (w+r)%accounts, (w+2*r+1)%accounts
				must(concurrency.NewSTM(c, func(s concurrency.STM) error {
					move(s, account(from), -(w + r + 1))
					move(s, account(to), w+r+1)
					move(s, p+"transactions", 1)
					return nil
				}, concurrency.WithIsolation(level.iso), concurrency.WithAbortContext(ctx)))
			}
		})
		all := must(e.client.Get(ctx, p, clientv3.WithPrefix()))
		sum := 0
		balances := ""
		for _, kv := range all.Kvs {
			n := must(strconv.Atoi(string(kv.Value)))
			if string(kv.Key) != p+"transactions" {
				sum += n
				balances += fmt.Sprintf(" %d", n)
			}
		}
		t.printf("%s: transactions=%s sum=%d balances:%s", level.name,
			must(e.client.Get(ctx, p+"transactions")).Kvs[0].Value, sum, balances)
	}

	p := governed + "go-stm/single/"
	// One write per transaction: the STM sends its writes in the order of a Go map, which differs run by run.
	single := func(apply func(s concurrency.STM) error) {
		r, err := concurrency.NewSTM(e.client, apply, concurrency.WithAbortContext(ctx))
		t.result("stm", err, func() string { return t.txnText(r) })
	}
	single(func(s concurrency.STM) error {
		s.Put(p+"k", fmt.Sprintf("written after reading %q", s.Get(p+"missing")))
		return nil
	})
	single(func(s concurrency.STM) error {
		s.Put(p+"copy", s.Get(p+"k"))
		return nil
	})
	single(func(s concurrency.STM) error {
		s.Put(p+"k", "never written")
		return errors.New("the function failed")
	})
	t.get(e.client.Get(ctx, p, clientv3.WithPrefix()))
	single(func(s concurrency.STM) error {
		s.Del(p + "k")
		return nil
	})
	t.get(e.client.Get(ctx, p, clientv3.WithPrefix()))
}

// move adds delta to the number at key (missing counts as 0) inside an STM transaction.
func move(s concurrency.STM, key string, delta int) {
	n := 0
	if v := s.Get(key); v != "" {
		n = must(strconv.Atoi(v))
	}
	s.Put(key, strconv.Itoa(n+delta))
}
