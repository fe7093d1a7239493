package io.etcdcrypt.snapshot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * One bbolt page as stored (go.etcd.io/bbolt internal/common/page.go): a 16-byte header {id, flags,
 * count, overflow} and {@code count} 16-byte elements, whose keys and values lie further on in the
 * page at offsets relative to the element itself. Branch elements are {pos, ksize, child page};
 * leaf elements are {flags, pos, ksize, vsize}. Every offset is checked against the page, so a
 * corrupt page gives an error, never a wrong key.
 */
final class BoltPage {

  static final int HEADER_SIZE = 16;
  static final int ELEMENT_SIZE = 16;
  static final int BRANCH = 0x01;
  static final int LEAF = 0x02;
  static final int META = 0x04;

  /** A leaf element whose value is a nested bucket. */
  static final int BUCKET_LEAF = 0x01;

  private final ByteBuffer b;
  private final long id;
  private final int flags;
  private final int count;

  /**
   * @param b the page's bytes, position 0 at its header, limit at the end of its last overflow page
   * @param id the page id it was read at (0 for an inline bucket's page)
   */
  BoltPage(ByteBuffer b, long id) throws SnapshotFormatException {
    this.b = b.order(ByteOrder.LITTLE_ENDIAN);
    this.id = id;
    if (b.limit() < HEADER_SIZE) {
      throw new SnapshotFormatException("page " + id + " is truncated");
    }
    this.flags = b.getShort(8) & 0xffff;
    this.count = b.getShort(10) & 0xffff;
    if ((long) HEADER_SIZE + (long) count * ELEMENT_SIZE > b.limit()) {
      throw new SnapshotFormatException(
          "page " + id + " claims " + count + " elements, more than it holds");
    }
  }

  static long storedId(ByteBuffer header) {
    return header.order(ByteOrder.LITTLE_ENDIAN).getLong(0);
  }

  static int overflow(ByteBuffer header) {
    return header.order(ByteOrder.LITTLE_ENDIAN).getInt(12);
  }

  long id() {
    return id;
  }

  boolean isBranch() {
    return flags == BRANCH;
  }

  boolean isLeaf() {
    return flags == LEAF;
  }

  int count() {
    return count;
  }

  /** The page a branch element points to. */
  long child(int i) {
    return b.getLong(element(i) + 8);
  }

  int leafFlags(int i) {
    return b.getInt(element(i));
  }

  byte[] leafKey(int i) throws SnapshotFormatException {
    int e = element(i);
    int pos = b.getInt(e + 4);
    int ksize = b.getInt(e + 8);
    byte[] key = new byte[ksize];
    b.get(within(e, pos, ksize), key);
    return key;
  }

  /** A view of the value of leaf element {@code i} (no copy). */
  ByteBuffer leafValue(int i) throws SnapshotFormatException {
    int e = element(i);
    int pos = b.getInt(e + 4);
    int ksize = b.getInt(e + 8);
    int vsize = b.getInt(e + 12);
    int start = within(e, pos + ksize, vsize);
    return b.slice(start, vsize).order(ByteOrder.LITTLE_ENDIAN);
  }

  private int element(int i) {
    return HEADER_SIZE + i * ELEMENT_SIZE;
  }

  /**
   * The absolute offset of {@code length} bytes {@code pos} bytes after element offset {@code e}.
   */
  private int within(int e, int pos, int length) throws SnapshotFormatException {
    long start = (long) e + Integer.toUnsignedLong(pos);
    if (pos < 0 || length < 0 || start + length > b.limit()) {
      throw new SnapshotFormatException(
          "an element of page " + id + " points outside the page (corrupt or truncated file)");
    }
    return (int) start;
  }
}
