package io.etcdcrypt.snapshot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A key of etcd's {@code key} bucket (etcd server/storage/mvcc revision.go): the main revision (8
 * bytes big-endian), {@code '_'}, the sub revision (8 bytes big-endian), and for a deletion a
 * trailing {@code 't'}.
 */
public record Revision(long main, long sub, boolean tombstone) {

  private static final int LENGTH = 17;
  private static final byte TOMBSTONE = 't';

  static Revision parse(byte[] k) throws SnapshotFormatException {
    boolean marked = k.length == LENGTH + 1;
    if ((k.length != LENGTH && !marked) || k[8] != '_' || (marked && k[LENGTH] != TOMBSTONE)) {
      throw new SnapshotFormatException(
          "the key bucket holds a " + k.length + "-byte key that is not an etcd revision");
    }
    ByteBuffer b = ByteBuffer.wrap(k).order(ByteOrder.BIG_ENDIAN);
    return new Revision(b.getLong(0), b.getLong(9), marked);
  }

  @Override
  public String toString() {
    return main + (sub == 0 ? "" : "." + sub) + (tombstone ? " (deletion)" : "");
  }
}
