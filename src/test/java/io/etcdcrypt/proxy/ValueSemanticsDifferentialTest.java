package io.etcdcrypt.proxy;

import static io.etcdcrypt.testing.Clients.pb;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.TextFormat;
import io.etcdcrypt.etcd.etcdserverpb.Compare;
import io.etcdcrypt.etcd.etcdserverpb.Compare.CompareResult;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest.SortOrder;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest.SortTarget;
import io.etcdcrypt.etcd.etcdserverpb.RangeResponse;
import io.etcdcrypt.etcd.etcdserverpb.RequestOp;
import io.etcdcrypt.etcd.etcdserverpb.ResponseHeader;
import io.etcdcrypt.etcd.etcdserverpb.TxnRequest;
import io.etcdcrypt.etcd.etcdserverpb.TxnResponse;
import io.etcdcrypt.testing.Channels;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.ProxyExtension;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.TestCodecs;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Txn compares on VALUE and sorts by VALUE over encrypted keys, against etcd: the same requests go
 * to one etcd directly (plaintext values, compared and sorted by etcd) and to another through the
 * proxy (secrets encrypted with AES-GCM, compared and sorted by the proxy), and every answer must
 * be the same: succeeded flags, results, values, revisions, errors. Both see the same writes, so
 * revisions match too.
 */
@RealComponents
class ValueSemanticsDifferentialTest {

  @RegisterExtension static final EtcdExtension direct = new EtcdExtension();
  @RegisterExtension static final EtcdExtension proxied = new EtcdExtension();

  @RegisterExtension
  static final ProxyExtension proxy = new ProxyExtension(proxied, TestCodecs.secretsUnderAesGcm());

  private static ManagedChannel toDirect;

  @BeforeAll
  static void seed() {
    toDirect = Channels.plaintext(direct.endpoint());
    both(
        ch ->
            String.join(
                " ",
                put(ch, "/registry/secrets/d/a", "m"),
                put(ch, "/registry/secrets/d/empty", ""),
                put(ch, "/registry/secrets/r1/x1", "b"),
                put(ch, "/registry/secrets/r1/x2", "c"),
                put(ch, "/registry/secrets/r1/x3", "d"),
                put(ch, "/registry/pods/d/p", "m"),
                put(ch, "/app/plain", "m"),
                // Values in an order unlike their keys', for the sorts; one binary value with a
                // high byte.
                put(ch, "/registry/secrets/s/1", "kiwi"),
                put(ch, "/registry/secrets/s/2", "apple"),
                put(ch, "/registry/secrets/s/3", "pear"),
                put(ch, "/registry/secrets/s/4", "banana"),
                put(ch, "/registry/secrets/s/5", "fig"),
                putBytes(
                    ch,
                    "/registry/secrets/s/6",
                    ByteString.copyFrom(new byte[] {(byte) 0xc3, 'x'})),
                put(ch, "/registry/secrets/s/7", "cherry"),
                put(
                    ch,
                    "/registry/secrets/s/1",
                    "plum"))); // a later mod revision, for the revision filters
    // The proxy stored ciphertext: etcd itself could not have answered these requests.
    ByteString stored =
        KVGrpc.newBlockingStub(proxy.toEtcd())
            .range(RangeRequest.newBuilder().setKey(pb("/registry/secrets/d/a")).build())
            .getKvs(0)
            .getValue();
    assertTrue(stored.startsWith(pb("k8s:enc:aesgcm:v1:key1:")), stored.toStringUtf8());
  }

  @AfterAll
  static void closeChannel() {
    if (toDirect != null) {
      toDirect.shutdownNow();
    }
  }

  /**
   * Runs {@code call} against etcd directly, then through the proxy, and requires the same
   * transcript.
   */
  private static String both(Function<ManagedChannel, String> call) {
    String expected = call.apply(toDirect);
    String actual = call.apply(proxy.toProxy());
    assertEquals(expected, actual);
    return expected;
  }

  private static String put(ManagedChannel ch, String key, String value) {
    return putBytes(ch, key, pb(value));
  }

  private static String putBytes(ManagedChannel ch, String key, ByteString value) {
    return "rev "
        + KVGrpc.newBlockingStub(ch)
            .put(PutRequest.newBuilder().setKey(pb(key)).setValue(value).build())
            .getHeader()
            .getRevision();
  }

  /**
   * A Txn's answer without what differs between two clusters (ids, term), or the error it ended
   * with.
   */
  private static String txn(ManagedChannel ch, TxnRequest t) {
    try {
      TxnResponse r = KVGrpc.newBlockingStub(ch).txn(t);
      return TextFormat.shortDebugString(
          r.toBuilder().setHeader(revisionOnly(r.getHeader())).build());
    } catch (StatusRuntimeException e) {
      return "ERR " + e.getStatus().getCode() + " " + e.getStatus().getDescription();
    }
  }

  private static String range(ManagedChannel ch, RangeRequest r) {
    try {
      RangeResponse resp = KVGrpc.newBlockingStub(ch).range(r);
      return TextFormat.shortDebugString(
          resp.toBuilder().setHeader(revisionOnly(resp.getHeader())).build());
    } catch (StatusRuntimeException e) {
      return "ERR " + e.getStatus().getCode() + " " + e.getStatus().getDescription();
    }
  }

  private static ResponseHeader revisionOnly(ResponseHeader h) {
    return ResponseHeader.newBuilder().setRevision(h.getRevision()).build();
  }

  private static Compare value(String key, CompareResult result, String value) {
    return Compare.newBuilder()
        .setKey(pb(key))
        .setTarget(Compare.CompareTarget.VALUE)
        .setResult(result)
        .setValue(pb(value))
        .build();
  }

  private static Compare valueOver(
      String key, String rangeEnd, CompareResult result, String value) {
    return value(key, result, value).toBuilder().setRangeEnd(pb(rangeEnd)).build();
  }

  private static RequestOp get(String key) {
    return RequestOp.newBuilder()
        .setRequestRange(RangeRequest.newBuilder().setKey(pb(key)))
        .build();
  }

  private static RequestOp putOp(String key, String value) {
    return RequestOp.newBuilder()
        .setRequestPut(PutRequest.newBuilder().setKey(pb(key)).setValue(pb(value)).setPrevKv(true))
        .build();
  }

  private static RequestOp nested(TxnRequest t) {
    return RequestOp.newBuilder().setRequestTxn(t).build();
  }

  /**
   * If {@code compares} then read a, else read the r1 keys: a read-only Txn that shows which branch
   * ran.
   */
  private static TxnRequest branch(Compare... compares) {
    return TxnRequest.newBuilder()
        .addAllCompare(List.of(compares))
        .addSuccess(get("/registry/secrets/d/a"))
        .addFailure(get("/registry/secrets/r1/x1"))
        .build();
  }

  @Test
  void everyOperatorOnOneKey() {
    List<String> outcomes = new ArrayList<>();
    for (CompareResult op :
        List.of(
            CompareResult.EQUAL,
            CompareResult.NOT_EQUAL,
            CompareResult.GREATER,
            CompareResult.LESS)) {
      for (String probe : List.of("a", "m", "mm", "z", "")) {
        outcomes.add(both(ch -> txn(ch, branch(value("/registry/secrets/d/a", op, probe)))));
      }
      // An empty value, and a compare that names no value at all (etcd compares it with the empty
      // value).
      outcomes.add(both(ch -> txn(ch, branch(value("/registry/secrets/d/empty", op, "")))));
      outcomes.add(
          both(
              ch ->
                  txn(
                      ch,
                      branch(
                          value("/registry/secrets/d/empty", op, "").toBuilder()
                              .clearValue()
                              .build()))));
      // A key that does not exist fails every VALUE compare.
      outcomes.add(both(ch -> txn(ch, branch(value("/registry/secrets/d/missing", op, "x")))));
    }
    assertTrue(outcomes.get(1).contains("succeeded: true"), outcomes.get(1)); // EQUAL "m"
    assertFalse(outcomes.get(0).contains("succeeded: true"), outcomes.get(0)); // EQUAL "a"
  }

  @Test
  void rangesEmptyRangesFromKeyAndMixedRanges() {
    List<String> outcomes = new ArrayList<>();
    for (CompareResult op : CompareResult.values()) {
      if (op == CompareResult.UNRECOGNIZED) {
        continue;
      }
      for (String probe : List.of("a", "b", "c", "e")) {
        // Every key of the range must satisfy the compare.
        outcomes.add(
            both(
                ch ->
                    txn(
                        ch,
                        branch(
                            valueOver(
                                "/registry/secrets/r1/", "/registry/secrets/r10", op, probe)))));
        // No key in the range: fails.
        outcomes.add(
            both(
                ch ->
                    txn(
                        ch,
                        branch(
                            valueOver(
                                "/registry/secrets/none/",
                                "/registry/secrets/none0",
                                op,
                                probe)))));
        // From a key to the end of the keyspace ("\0"): secrets, then /registry/services... and
        // beyond.
        outcomes.add(
            both(ch -> txn(ch, branch(valueOver("/registry/secrets/r1/x2", "\0", op, probe)))));
        // Plaintext pods and encrypted secrets in one range.
        outcomes.add(
            both(
                ch ->
                    txn(
                        ch,
                        branch(valueOver("/registry/pods/", "/registry/secrets0", op, probe)))));
      }
    }
    assertTrue(
        outcomes.stream().anyMatch(o -> o.contains("succeeded: true")),
        String.join("\n", outcomes));
  }

  @Test
  void severalComparesNestedTxnsAndWrites() {
    Compare aIsM = value("/registry/secrets/d/a", CompareResult.EQUAL, "m");
    Compare x1IsB = value("/registry/secrets/r1/x1", CompareResult.EQUAL, "b");
    Compare x2IsNotC = value("/registry/secrets/r1/x2", CompareResult.NOT_EQUAL, "c");
    Compare podIsM = value("/registry/pods/d/p", CompareResult.EQUAL, "m");
    both(ch -> txn(ch, branch(aIsM, x1IsB, podIsM)));
    both(ch -> txn(ch, branch(aIsM, x2IsNotC)));

    // Three levels: the outer compare on MOD, a nested VALUE compare in each branch, one more
    // below.
    TxnRequest deepest =
        TxnRequest.newBuilder()
            .addCompare(x2IsNotC)
            .addSuccess(putOp("/registry/secrets/n/deep", "then"))
            .addFailure(putOp("/registry/secrets/n/deep", "else"))
            .build();
    TxnRequest middle =
        TxnRequest.newBuilder()
            .addCompare(x1IsB)
            .addSuccess(putOp("/registry/secrets/n/mid", "then"))
            .addSuccess(nested(deepest))
            .addFailure(get("/registry/secrets/n/mid"))
            .build();
    TxnRequest outer =
        TxnRequest.newBuilder()
            .addCompare(
                Compare.newBuilder()
                    .setKey(pb("/registry/secrets/d/a"))
                    .setTarget(Compare.CompareTarget.MOD)
                    .setResult(CompareResult.GREATER)
                    .setModRevision(0))
            .addSuccess(nested(middle))
            .addSuccess(get("/registry/secrets/d/a"))
            .addFailure(
                nested(
                    TxnRequest.newBuilder()
                        .addCompare(aIsM)
                        .addSuccess(putOp("/registry/secrets/n/x", "y"))
                        .build()))
            .build();
    String first = both(ch -> txn(ch, outer));
    assertTrue(first.contains("succeeded: true"), first);
    // Again: now the puts return their previous values, still opened.
    both(ch -> txn(ch, outer));
    both(
        ch ->
            range(
                ch,
                RangeRequest.newBuilder()
                    .setKey(pb("/registry/secrets/n/"))
                    .setRangeEnd(pb("/registry/secrets/n0"))
                    .build()));

    // Compare-and-swap, the way clients use VALUE compares: the second one fails.
    TxnRequest cas =
        TxnRequest.newBuilder()
            .addCompare(value("/registry/secrets/n/mid", CompareResult.EQUAL, "then"))
            .addSuccess(putOp("/registry/secrets/n/mid", "swapped"))
            .addFailure(get("/registry/secrets/n/mid"))
            .build();
    assertTrue(both(ch -> txn(ch, cas)).contains("succeeded: true"));
    assertFalse(both(ch -> txn(ch, cas)).contains("succeeded: true"));
  }

  @Test
  void errorsAreEtcdsOwn() {
    // A compare without a key, and a Txn that puts one key twice: etcd's own refusals, word for
    // word.
    both(ch -> txn(ch, branch(value("", CompareResult.EQUAL, "m"))));
    both(
        ch ->
            txn(
                ch,
                TxnRequest.newBuilder()
                    .addCompare(value("/registry/secrets/d/a", CompareResult.EQUAL, "m"))
                    .addSuccess(putOp("/registry/secrets/d/dup", "1"))
                    .addSuccess(putOp("/registry/secrets/d/dup", "2"))
                    .build()));
    both(
        ch ->
            txn(
                ch,
                branch(value("/registry/secrets/d/a", CompareResult.EQUAL, "m")).toBuilder()
                    .addSuccess(
                        RequestOp.newBuilder()
                            .setRequestRange(
                                RangeRequest.newBuilder().setKey(pb("/x")).setRevision(1_000_000)))
                    .build()));
  }

  @Test
  void sortsByValue() {
    RangeRequest s =
        RangeRequest.newBuilder()
            .setKey(pb("/registry/secrets/s/"))
            .setRangeEnd(pb("/registry/secrets/s0"))
            .setSortTarget(SortTarget.VALUE)
            .build();
    List<RangeRequest> requests = new ArrayList<>();
    for (SortOrder order : List.of(SortOrder.NONE, SortOrder.ASCEND, SortOrder.DESCEND)) {
      RangeRequest ordered = s.toBuilder().setSortOrder(order).build();
      requests.add(ordered);
      for (long limit : List.of(1L, 3L, 6L, 7L, 8L)) {
        requests.add(ordered.toBuilder().setLimit(limit).build());
      }
      requests.add(ordered.toBuilder().setLimit(3).setKeysOnly(true).build());
      requests.add(ordered.toBuilder().setCountOnly(true).build());
      requests.add(ordered.toBuilder().setMinModRevision(4).setLimit(2).build());
      requests.add(ordered.toBuilder().setMaxCreateRevision(12).build());
    }
    for (RangeRequest r : requests) {
      String answer = both(ch -> range(ch, r));
      assertFalse(answer.startsWith("ERR"), answer);
    }
    String ascending =
        both(ch -> range(ch, s.toBuilder().setSortOrder(SortOrder.ASCEND).setLimit(2).build()));
    assertTrue(
        ascending.indexOf("apple") < ascending.indexOf("banana") && !ascending.contains("cherry"),
        ascending);

    // The same ranges inside a Txn, at two depths and in the branch etcd takes.
    TxnRequest t =
        TxnRequest.newBuilder()
            .addCompare(value("/registry/secrets/d/a", CompareResult.EQUAL, "m"))
            .addSuccess(RequestOp.newBuilder().setRequestRange(requests.get(3)))
            .addSuccess(
                nested(
                    TxnRequest.newBuilder()
                        .addSuccess(RequestOp.newBuilder().setRequestRange(requests.get(14)))
                        .build()))
            .addFailure(RequestOp.newBuilder().setRequestRange(requests.get(20)))
            .build();
    both(ch -> txn(ch, t));
    both(
        ch ->
            txn(
                ch,
                t.toBuilder()
                    .setCompare(0, value("/registry/secrets/d/a", CompareResult.LESS, "a"))
                    .build()));
  }
}
