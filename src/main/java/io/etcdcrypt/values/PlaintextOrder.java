package io.etcdcrypt.values;

import com.google.protobuf.ByteString;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeResponse;
import io.etcdcrypt.etcd.mvccpb.KeyValue;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Ranges sorted by VALUE over governed keys, ordered by the plaintexts as etcd orders stored bytes.
 * etcd would sort the ciphertexts, so the proxy asks etcd for the same range in key order and sorts
 * it itself, with the rules of etcd's range (server/etcdserver/txn, {@code executeRange}; the same
 * in 3.4 to 3.7):
 *
 * <ul>
 *   <li>an order other than NONE reads the whole range, sorts it, then cuts it to {@code limit}
 *       ({@code more} when it cut);
 *   <li>order NONE with target VALUE sorts ascending, but reads only the first {@code limit + 1}
 *       keys in key order (unless revision filters are set, which read everything): the cut then
 *       drops the largest of those;
 *   <li>revision filters, {@code revision}, {@code count} and the header are etcd's own; {@code
 *       keys_only} drops the values after the sort.
 * </ul>
 *
 * <p>Ties sort in key order, ascending or descending (etcd's order among equal stored values is its
 * sort's, which with unique ciphertexts never ties).
 */
final class PlaintextOrder {

  private static final Comparator<KeyValue> BY_VALUE =
      Comparator.comparing(KeyValue::getValue, ByteString.unsignedLexicographicalComparator());

  private PlaintextOrder() {}

  /**
   * Whether {@code r} sorts by VALUE with at least one value to sort that the codec may have
   * encrypted.
   */
  static boolean applies(RangeRequest r, io.etcdcrypt.crypto.ValueCodec codec) {
    return r.getSortTarget() == RangeRequest.SortTarget.VALUE
        && !r.getCountOnly()
        && codec.mayProtectRange(r.getKey(), r.getRangeEnd());
  }

  /** The Range to send to etcd for {@code r}: the same keys, in key order, with their values. */
  static RangeRequest upstream(RangeRequest r) {
    boolean readsAll = r.getSortOrder() != RangeRequest.SortOrder.NONE || hasRevisionFilters(r);
    long limit = readsAll || r.getLimit() <= 0 ? 0 : r.getLimit() + 1;
    return r.toBuilder()
        .setSortTarget(RangeRequest.SortTarget.KEY)
        .setSortOrder(RangeRequest.SortOrder.NONE)
        .setKeysOnly(false)
        .setLimit(limit)
        .build();
  }

  /** etcd's answer to {@code original}, from the opened answer to {@link #upstream}. */
  static RangeResponse order(RangeRequest original, RangeResponse opened) {
    List<KeyValue> kvs = sorted(original, opened.getKvsList());
    boolean cut = original.getLimit() > 0 && kvs.size() > original.getLimit();
    if (cut) {
      kvs = kvs.subList(0, (int) original.getLimit());
    }
    return opened.toBuilder()
        .clearKvs()
        .addAllKvs(withoutValuesIfKeysOnly(original, kvs))
        .setMore(cut)
        .build();
  }

  /**
   * One {@code KV/RangeStream} chunk for {@code original} (order NONE: etcd refuses other orders on
   * streams), from the opened chunk of {@link #upstream}'s stream. etcd sorts each chunk by itself,
   * so the proxy does too; the chunks follow key order (etcd 3.7.4 on plaintext starts the next
   * chunk after the last key of the sorted chunk, which can repeat keys).
   */
  static RangeResponse orderChunk(RangeRequest original, RangeResponse opened) {
    List<KeyValue> kvs = sorted(original, opened.getKvsList());
    return opened.toBuilder().clearKvs().addAllKvs(withoutValuesIfKeysOnly(original, kvs)).build();
  }

  /**
   * The RangeStream request to send for {@code r}: etcd answers other orders itself
   * (UNIMPLEMENTED).
   */
  static RangeRequest upstreamStream(RangeRequest r) {
    return r.getSortOrder() == RangeRequest.SortOrder.NONE
        ? r.toBuilder().setSortTarget(RangeRequest.SortTarget.KEY).setKeysOnly(false).build()
        : r;
  }

  private static List<KeyValue> sorted(RangeRequest original, List<KeyValue> kvs) {
    List<KeyValue> out = new ArrayList<>(kvs);
    // List.sort is stable: ties keep the key order etcd returned, in both directions.
    out.sort(
        original.getSortOrder() == RangeRequest.SortOrder.DESCEND ? BY_VALUE.reversed() : BY_VALUE);
    return out;
  }

  private static List<KeyValue> withoutValuesIfKeysOnly(RangeRequest original, List<KeyValue> kvs) {
    if (!original.getKeysOnly()) {
      return kvs;
    }
    List<KeyValue> out = new ArrayList<>(kvs.size());
    for (KeyValue kv : kvs) {
      out.add(kv.toBuilder().clearValue().build());
    }
    return out;
  }

  private static boolean hasRevisionFilters(RangeRequest r) {
    return r.getMinModRevision() != 0
        || r.getMaxModRevision() != 0
        || r.getMinCreateRevision() != 0
        || r.getMaxCreateRevision() != 0;
  }
}
