package io.etcdcrypt.snapshot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * One of the two meta pages of a bbolt file (go.etcd.io/bbolt internal/common/meta.go): magic,
 * format version, page size, the root bucket's page, the high-water page id and the transaction id,
 * protected by an FNV-1a 64 checksum of the fields before it. bbolt writes the two pages in turn,
 * so the valid one with the higher transaction id is the file's current state.
 */
record BoltMeta(int pageSize, long rootPage, long highWater, long txid) {

  static final int MAGIC = 0xED0CDAED;
  static final int VERSION = 2;

  /** The meta struct's size up to (not including) its checksum. */
  private static final int CHECKSUMMED_BYTES = 56;

  /**
   * Reads the meta that starts {@link BoltPage#HEADER_SIZE} bytes into {@code page}.
   *
   * @throws SnapshotFormatException naming what is wrong with it
   */
  static BoltMeta parse(ByteBuffer page, int index) throws SnapshotFormatException {
    ByteBuffer b = page.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    int base = BoltPage.HEADER_SIZE;
    if (b.limit() < base + CHECKSUMMED_BYTES + 8) {
      throw new SnapshotFormatException("meta page " + index + " is truncated");
    }
    if ((b.getShort(8) & 0xffff) != BoltPage.META) {
      throw new SnapshotFormatException("page " + index + " is not a bbolt meta page");
    }
    if (b.getInt(base) != MAGIC) {
      throw new SnapshotFormatException("meta page " + index + " lacks bbolt's magic number");
    }
    int version = b.getInt(base + 4);
    if (version != VERSION) {
      throw new SnapshotFormatException(
          "meta page " + index + " has bbolt format version " + version + ", not " + VERSION);
    }
    long checksum = b.getLong(base + CHECKSUMMED_BYTES);
    if (checksum != fnv1a64(b, base, CHECKSUMMED_BYTES)) {
      throw new SnapshotFormatException("meta page " + index + " fails its checksum");
    }
    int pageSize = b.getInt(base + 8);
    if (pageSize < 1024 || pageSize > (1 << 20) || Integer.bitCount(pageSize) != 1) {
      throw new SnapshotFormatException(
          "meta page " + index + " names an impossible page size " + pageSize);
    }
    // flags (base + 12), then the root bucket {root page, sequence}, the freelist page, the
    // high-water page id and the transaction id
    return new BoltMeta(pageSize, b.getLong(base + 16), b.getLong(base + 40), b.getLong(base + 48));
  }

  /** Go's hash/fnv New64a over {@code length} bytes from {@code offset}. */
  static long fnv1a64(ByteBuffer b, int offset, int length) {
    long h = 0xcbf29ce484222325L;
    for (int i = offset; i < offset + length; i++) {
      h ^= b.get(i) & 0xff;
      h *= 0x100000001b3L;
    }
    return h;
  }
}
