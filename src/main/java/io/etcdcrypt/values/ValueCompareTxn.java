package io.etcdcrypt.values;

import com.google.protobuf.ByteString;
import io.etcdcrypt.crypto.ValueCodec;
import io.etcdcrypt.etcd.etcdserverpb.Compare;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeResponse;
import io.etcdcrypt.etcd.etcdserverpb.RequestOp;
import io.etcdcrypt.etcd.etcdserverpb.ResponseOp;
import io.etcdcrypt.etcd.etcdserverpb.TxnRequest;
import io.etcdcrypt.etcd.etcdserverpb.TxnResponse;
import io.etcdcrypt.etcd.mvccpb.KeyValue;
import io.grpc.Status;
import io.grpc.StatusException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;

/**
 * A Txn whose compares on VALUE cover keys the codec may have encrypted, decided on the plaintexts
 * and committed atomically. etcd would compare the stored ciphertexts, which differ for equal
 * values, so the proxy:
 *
 * <ol>
 *   <li>reads every range those compares cover in one read-only Txn, so at one revision R ({@link
 *       #readRequest});
 *   <li>opens the values and decides each compare as etcd's {@code applyCompare} does on stored
 *       bytes: every key of the range must satisfy it, and a range without keys fails it ({@link
 *       #decide});
 *   <li>sends the client's Txn with each decided compare replaced by a compare of the same keys
 *       that always has the decided outcome, nested in a Txn whose compares (guards) hold exactly
 *       while nothing that could change a decision has been written since R ({@link #guarded});
 *   <li>if a guard failed, a concurrent write won the race and nothing was applied: it reads and
 *       decides again, up to {@value #MAX_ATTEMPTS} times, then answers {@code ABORTED} with
 *       nothing written.
 * </ol>
 *
 * <p>etcd evaluates every compare of a Txn, nested ones included, against the store as the Txn
 * starts ({@code compareToPath}), so deciding all of them against revision R and committing only
 * while R's answers still hold is etcd's semantics on the plaintexts. The client gets what etcd
 * answers for its own Txn: the same {@code succeeded} flags and responses, the header of the
 * commit.
 *
 * <p>Guards, per decided compare: the one key that decides it unchanged ({@code MOD == its
 * mod_revision}, or {@code == 0} for a key that is absent); for a range that passes, also no key of
 * the range written since R ({@code MOD < R + 1}); for an empty range, only the latter.
 */
public final class ValueCompareTxn {

  static final int MAX_ATTEMPTS = 16;

  /**
   * Operations per level in the Txns this class writes; etcd's default {@code --max-txn-ops} is
   * 128. More nest one level deeper.
   */
  static final int OPS_PER_LEVEL = 64;

  private final ValueCodec codec;
  private final ValueCodec.StaleListener stale;
  private final TxnRequest sealed;
  private final List<Compare> decided =
      new ArrayList<>(); // in tree order: a level's compares, then its ops' Txns
  private final Map<Range, Integer> ranges =
      new LinkedHashMap<>(); // each covered range, with its read position

  /** A range of keys as a compare names it: one key, or {@code [key, rangeEnd)}. */
  private record Range(ByteString key, ByteString rangeEnd) {
    static Range of(Compare c) {
      return new Range(c.getKey(), c.getRangeEnd());
    }

    boolean isSingleKey() {
      return rangeEnd.isEmpty();
    }
  }

  /**
   * What was decided at revision R: one outcome per decided compare, in tree order, and the guards.
   */
  private record Decision(List<Boolean> outcomes, Set<Compare> guards) {}

  private ValueCompareTxn(ValueCodec codec, ValueCodec.StaleListener stale, TxnRequest sealed) {
    this.codec = codec;
    this.stale = stale;
    this.sealed = sealed;
    collect(sealed);
  }

  /**
   * The decision for {@code sealed} (values already sealed), or null when etcd can compare it as it
   * is.
   */
  static ValueCompareTxn of(ValueCodec codec, ValueCodec.StaleListener stale, TxnRequest sealed) {
    return needsDecision(codec, sealed) ? new ValueCompareTxn(codec, stale, sealed) : null;
  }

  private static boolean needsDecision(ValueCodec codec, TxnRequest t) {
    for (Compare c : t.getCompareList()) {
      if (isDecidedHere(codec, c)) {
        return true;
      }
    }
    for (RequestOp op : t.getSuccessList()) {
      if (op.hasRequestTxn() && needsDecision(codec, op.getRequestTxn())) {
        return true;
      }
    }
    for (RequestOp op : t.getFailureList()) {
      if (op.hasRequestTxn() && needsDecision(codec, op.getRequestTxn())) {
        return true;
      }
    }
    return false;
  }

  private static boolean isDecidedHere(ValueCodec codec, Compare c) {
    return c.getTarget() == Compare.CompareTarget.VALUE
        && codec.mayProtectRange(c.getKey(), c.getRangeEnd());
  }

  private void collect(TxnRequest t) {
    for (Compare c : t.getCompareList()) {
      if (isDecidedHere(codec, c)) {
        decided.add(c);
        ranges.putIfAbsent(Range.of(c), ranges.size());
      }
    }
    for (RequestOp op : t.getSuccessList()) {
      if (op.hasRequestTxn()) {
        collect(op.getRequestTxn());
      }
    }
    for (RequestOp op : t.getFailureList()) {
      if (op.hasRequestTxn()) {
        collect(op.getRequestTxn());
      }
    }
  }

  /**
   * The read-only Txn that reads every covered range at one revision: the first thing to send to
   * etcd.
   */
  public TxnRequest readRequest() {
    List<RequestOp> reads = new ArrayList<>(ranges.size());
    for (Range r : ranges.keySet()) {
      reads.add(
          RequestOp.newBuilder()
              .setRequestRange(RangeRequest.newBuilder().setKey(r.key()).setRangeEnd(r.rangeEnd()))
              .build());
    }
    return nest(reads, 0);
  }

  /**
   * {@code ops[from..]} as a Txn of at most {@link #OPS_PER_LEVEL} operations, the rest in a nested
   * Txn.
   */
  private static TxnRequest nest(List<RequestOp> ops, int from) {
    int end = Math.min(ops.size(), from + OPS_PER_LEVEL - 1);
    TxnRequest.Builder level = TxnRequest.newBuilder().addAllSuccess(ops.subList(from, end));
    if (end < ops.size()) {
      level.addSuccess(RequestOp.newBuilder().setRequestTxn(nest(ops, end)));
    }
    return level.build();
  }

  /**
   * The client's Txn as etcd answers it, values still sealed, from etcd's answer to {@link
   * #readRequest}: decided, committed under guards and, when a concurrent write won the race, read
   * and decided again. {@code etcd} sends a Txn to etcd on behalf of the same client call.
   */
  public CompletionStage<TxnResponse> commit(
      TxnResponse firstRead, Function<TxnRequest, CompletionStage<TxnResponse>> etcd) {
    return attempt(firstRead, etcd, 1);
  }

  private CompletionStage<TxnResponse> attempt(
      TxnResponse read, Function<TxnRequest, CompletionStage<TxnResponse>> etcd, int attempt) {
    return ValueTransforms.run(codec, stale, values -> decide(values, read))
        .thenCompose(
            decision ->
                etcd.apply(guarded(decision))
                    .thenCompose(
                        committed -> {
                          TxnResponse answer;
                          try {
                            answer = unwrap(committed, decision);
                          } catch (StatusException e) {
                            return CompletableFuture.failedFuture(e);
                          }
                          if (answer != null) {
                            return CompletableFuture.completedFuture(answer);
                          }
                          if (attempt == MAX_ATTEMPTS) {
                            return CompletableFuture.failedFuture(
                                Refusals.refuse(
                                    Status.ABORTED,
                                    "the keys this Txn compares on VALUE were written by others "
                                        + MAX_ATTEMPTS
                                        + " times while the proxy decided it; nothing was written. Retry the Txn."));
                          }
                          return etcd.apply(readRequest())
                              .thenCompose(next -> attempt(next, etcd, attempt + 1));
                        }));
  }

  // ---- deciding ----

  private Decision decide(ValueSource values, TxnResponse read) throws StatusException {
    long revision = read.getHeader().getRevision();
    List<List<KeyValue>> opened = openReads(values, read);
    List<Boolean> outcomes = new ArrayList<>(decided.size());
    Set<Compare> guards = new LinkedHashSet<>();
    for (Compare c : decided) {
      Range range = Range.of(c);
      List<KeyValue> kvs = opened.get(ranges.get(range));
      KeyValue failing = null;
      for (KeyValue kv : kvs) {
        if (!holds(c, kv.getValue())) {
          failing = kv;
          break;
        }
      }
      if (kvs.isEmpty()) {
        outcomes.add(false); // etcd: a VALUE compare on keys that do not exist fails
        guards.add(
            range.isSingleKey() ? unchanged(range.key(), 0) : nothingWrittenSince(range, revision));
      } else if (failing != null) {
        outcomes.add(false);
        guards.add(unchanged(failing.getKey(), failing.getModRevision()));
      } else {
        outcomes.add(true);
        guards.add(unchanged(kvs.get(0).getKey(), kvs.get(0).getModRevision()));
        if (!range.isSingleKey()) {
          guards.add(nothingWrittenSince(range, revision));
        }
      }
    }
    return new Decision(outcomes, guards);
  }

  /** The key-values of each range read, in read order, with their values opened. */
  private static List<List<KeyValue>> openReads(ValueSource values, TxnResponse read)
      throws StatusException {
    List<List<KeyValue>> out = new ArrayList<>();
    TxnResponse level = read;
    while (level != null) {
      TxnResponse next = null;
      for (ResponseOp op : level.getResponsesList()) {
        if (op.hasResponseRange()) {
          out.add(opened(values, op.getResponseRange()));
        } else if (op.hasResponseTxn() && next == null) {
          next = op.getResponseTxn();
        } else {
          throw Refusals.refuse(
              Status.INTERNAL,
              "etcd answered the proxy's read of compared keys with "
                  + "something other than ranges; the Txn was not sent");
        }
      }
      level = next;
    }
    return out;
  }

  private static List<KeyValue> opened(ValueSource values, RangeResponse range)
      throws StatusException {
    Refusals.requireKnownResponseFields(range, "RangeResponse");
    List<KeyValue> kvs = new ArrayList<>(range.getKvsCount());
    for (KeyValue kv : range.getKvsList()) {
      Refusals.requireKnownResponseFields(kv, "KeyValue");
      // An empty stored value is its own plaintext, as a Range through the proxy answers it.
      ByteString plain =
          kv.getValue().isEmpty()
              ? kv.getValue()
              : values.open(kv.getKey(), kv.getValue(), kv.getModRevision(), true);
      kvs.add(plain == kv.getValue() ? kv : kv.toBuilder().setValue(plain).build());
    }
    return kvs;
  }

  /**
   * etcd's {@code compareKV} for VALUE: bytes compared unsigned, a compare without a value against
   * empty.
   */
  private static boolean holds(Compare c, ByteString plaintext) {
    ByteString target =
        c.getTargetUnionCase() == Compare.TargetUnionCase.VALUE ? c.getValue() : ByteString.EMPTY;
    int order = ByteString.unsignedLexicographicalComparator().compare(plaintext, target);
    return switch (c.getResult()) {
      case EQUAL -> order == 0;
      case NOT_EQUAL -> order != 0;
      case GREATER -> order > 0;
      case LESS -> order < 0;
      default -> true; // etcd: a result it does not know holds
    };
  }

  private static Compare unchanged(ByteString key, long modRevision) {
    return Compare.newBuilder()
        .setKey(key)
        .setTarget(Compare.CompareTarget.MOD)
        .setResult(Compare.CompareResult.EQUAL)
        .setModRevision(modRevision)
        .build();
  }

  private static Compare nothingWrittenSince(Range range, long revision) {
    return Compare.newBuilder()
        .setKey(range.key())
        .setRangeEnd(range.rangeEnd())
        .setTarget(Compare.CompareTarget.MOD)
        .setResult(Compare.CompareResult.LESS)
        .setModRevision(revision + 1)
        .build();
  }

  // ---- committing ----

  /** The client's Txn with its decided compares replaced by constants, nested under the guards. */
  private TxnRequest guarded(Decision d) {
    TxnRequest txn = withOutcomes(sealed, d.outcomes(), new int[] {0});
    List<Compare> guards = new ArrayList<>(d.guards());
    // Innermost level last: each level holds at most OPS_PER_LEVEL guards.
    int levels = levels(guards.size());
    for (int level = levels - 1; level >= 0; level--) {
      int from = level * OPS_PER_LEVEL;
      txn =
          TxnRequest.newBuilder()
              .addAllCompare(guards.subList(from, Math.min(guards.size(), from + OPS_PER_LEVEL)))
              .addSuccess(RequestOp.newBuilder().setRequestTxn(txn))
              .build();
    }
    return txn;
  }

  private static int levels(int guards) {
    return (guards + OPS_PER_LEVEL - 1) / OPS_PER_LEVEL;
  }

  private TxnRequest withOutcomes(TxnRequest t, List<Boolean> outcomes, int[] next) {
    TxnRequest.Builder b = t.toBuilder();
    for (int i = 0; i < t.getCompareCount(); i++) {
      Compare c = t.getCompare(i);
      if (isDecidedHere(codec, c)) {
        b.setCompare(i, constant(c, outcomes.get(next[0]++)));
      }
    }
    for (int i = 0; i < t.getSuccessCount(); i++) {
      if (t.getSuccess(i).hasRequestTxn()) {
        b.setSuccess(
            i,
            RequestOp.newBuilder()
                .setRequestTxn(withOutcomes(t.getSuccess(i).getRequestTxn(), outcomes, next)));
      }
    }
    for (int i = 0; i < t.getFailureCount(); i++) {
      if (t.getFailure(i).hasRequestTxn()) {
        b.setFailure(
            i,
            RequestOp.newBuilder()
                .setRequestTxn(withOutcomes(t.getFailure(i).getRequestTxn(), outcomes, next)));
      }
    }
    return b.build();
  }

  /**
   * A compare of the same keys (so the same permissions) that always has {@code outcome}: every
   * stored key has a version of at least 1, and etcd compares an empty range as one key of version
   * 0.
   */
  private static Compare constant(Compare c, boolean outcome) {
    return Compare.newBuilder()
        .setKey(c.getKey())
        .setRangeEnd(c.getRangeEnd())
        .setTarget(Compare.CompareTarget.VERSION)
        .setResult(outcome ? Compare.CompareResult.GREATER : Compare.CompareResult.LESS)
        .setVersion(outcome ? -1 : 0)
        .build();
  }

  /**
   * The client's Txn's response inside the committed one, with the commit's header; null if a guard
   * failed.
   */
  private static TxnResponse unwrap(TxnResponse committed, Decision d) throws StatusException {
    TxnResponse level = committed;
    for (int i = 0; i < levels(d.guards().size()); i++) {
      if (!level.getSucceeded()) {
        return null;
      }
      if (level.getResponsesCount() != 1 || !level.getResponses(0).hasResponseTxn()) {
        throw Refusals.refuse(
            Status.INTERNAL, "etcd answered a guarded Txn with a response of another shape");
      }
      level = level.getResponses(0).getResponseTxn();
    }
    return level.toBuilder().setHeader(committed.getHeader()).build();
  }
}
