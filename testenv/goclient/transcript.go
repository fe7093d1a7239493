package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// transcript prints what a scenario observed, one line per step, in a form that two runs against equal clusters
// print identically.
type transcript struct {
	w    io.Writer
	base int64 // the store revision before the scenario's first write
}

func (t *transcript) printf(format string, args ...any) {
	fmt.Fprintf(t.w, format+"\n", args...)
}

// rev shows a revision relative to the scenario's start, "r+3"; 0 (none) stays "0".
func (t *transcript) rev(r int64) string {
	if r == 0 {
		return "0"
	}
	return fmt.Sprintf("r%+d", r-t.base)
}

// result prints what a call returned, or "<what> ERR ..." when it failed.
func (t *transcript) result(what string, err error, text func() string) {
	if err != nil {
		t.printf("%s %s", what, errText(err))
		return
	}
	t.printf("%s", text())
}

func (t *transcript) get(r *clientv3.GetResponse, err error) {
	t.result("get", err, func() string { return t.getText(r) })
}

func (t *transcript) getText(r *clientv3.GetResponse) string {
	return fmt.Sprintf("get rev=%s count=%d more=%v kvs=%s", t.rev(r.Header.Revision), r.Count, r.More, t.kvs(r.Kvs))
}

func (t *transcript) put(r *clientv3.PutResponse, err error) {
	t.result("put", err, func() string { return fmt.Sprintf("put rev=%s prev=%s", t.rev(r.Header.Revision), t.kv(r.PrevKv)) })
}

func (t *transcript) del(r *clientv3.DeleteResponse, err error) {
	t.result("delete", err, func() string { return t.delText(r) })
}

func (t *transcript) delText(r *clientv3.DeleteResponse) string {
	return fmt.Sprintf("delete rev=%s deleted=%d prev=%s", t.rev(r.Header.Revision), r.Deleted, t.kvs(r.PrevKvs))
}

func (t *transcript) txn(r *clientv3.TxnResponse, err error) {
	t.result("txn", err, func() string { return t.txnText(r) })
}

// txnText shows a transaction's outcome with every response of the branch it took, nested ones included.
func (t *transcript) txnText(r *clientv3.TxnResponse) string {
	var b strings.Builder
	fmt.Fprintf(&b, "txn succeeded=%v rev=%s", r.Succeeded, t.rev(r.Header.Revision))
	for _, op := range r.Responses {
		switch {
		case op.GetResponseRange() != nil:
			fmt.Fprintf(&b, " {%s}", t.getText((*clientv3.GetResponse)(op.GetResponseRange())))
		case op.GetResponsePut() != nil:
			fmt.Fprintf(&b, " {put prev=%s}", t.kv(op.GetResponsePut().PrevKv))
		case op.GetResponseDeleteRange() != nil:
			fmt.Fprintf(&b, " {%s}", t.delText((*clientv3.DeleteResponse)(op.GetResponseDeleteRange())))
		case op.GetResponseTxn() != nil:
			fmt.Fprintf(&b, " {%s}", t.txnText((*clientv3.TxnResponse)(op.GetResponseTxn())))
		}
	}
	return b.String()
}

func (t *transcript) compact(r *clientv3.CompactResponse, err error) {
	t.result("compact", err, func() string { return "compact rev=" + t.rev(r.Header.Revision) })
}

func (t *transcript) event(ev *clientv3.Event) {
	t.printf("event %s %s prev=%s", ev.Type, t.kv(ev.Kv), t.kv(ev.PrevKv))
}

// events prints the next n events of a watch, whatever responses they come in (etcd may batch them either way),
// and fails the scenario when the watch ends or the scenario's time runs out first.
func (t *transcript) events(ctx context.Context, wc clientv3.WatchChan, n int) {
	for n > 0 {
		select {
		case r, ok := <-wc:
			if !ok {
				check(fmt.Errorf("watch closed with %d events still expected", n))
			}
			check(r.Err())
			for _, ev := range r.Events {
				t.event(ev)
				n--
			}
		case <-ctx.Done():
			check(fmt.Errorf("%d events still expected: %w", n, ctx.Err()))
		}
	}
}

func (t *transcript) kvs(list []*mvccpb.KeyValue) string {
	parts := make([]string, len(list))
	for i, kv := range list {
		parts[i] = t.kv(kv)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// kv shows a key-value with its revisions and version; a lease shows only as "leased" (IDs differ between runs).
func (t *transcript) kv(kv *mvccpb.KeyValue) string {
	if kv == nil {
		return "-"
	}
	s := fmt.Sprintf("%s=%s c=%s m=%s v=%d", kv.Key, value(kv.Value), t.rev(kv.CreateRevision), t.rev(kv.ModRevision),
		kv.Version)
	if kv.Lease != 0 {
		s += " leased"
	}
	return s
}

// value quotes a short value and summarizes a long one by its length and hash.
func value(v []byte) string {
	if len(v) <= 64 {
		return fmt.Sprintf("%q", v)
	}
	sum := sha256.Sum256(v)
	return fmt.Sprintf("<%d bytes sha256:%x>", len(v), sum[:8])
}

// errText shows an error as the client got it: the gRPC code and message of an etcd (or proxy) error, the text of
// a client-side one. A deadline shows the same wherever it struck (in the client or on the wire).
func errText(err error) string {
	if errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded {
		return "ERR deadline exceeded"
	}
	var coded interface{ Code() codes.Code }
	if errors.As(err, &coded) {
		return fmt.Sprintf("ERR %s %s", coded.Code(), err)
	}
	if s, ok := status.FromError(err); ok {
		return fmt.Sprintf("ERR %s %s", s.Code(), s.Message())
	}
	return "ERR " + err.Error()
}
