package io.etcdcrypt.snapshot;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * A bbolt database file opened read-only, page by page: nothing is loaded at once, so a file of any
 * size is read with a few pages of heap. Only what a reader needs: the current meta page, bucket
 * lookup in the root bucket, and an in-order walk over a bucket's leaf pages.
 */
final class BoltFile implements AutoCloseable {

  /** Branch pages deeper than this mean a cycle in a corrupt file (bbolt trees are shallow). */
  private static final int MAX_DEPTH = 64;

  /** A bucket's B+tree: its root page, or for an inline bucket the page stored in its value. */
  record Bucket(long root, BoltPage inline) {}

  /** Receives leaf pages in key order. */
  interface LeafVisitor {
    void visit(BoltPage leaf) throws IOException, SnapshotFormatException;
  }

  private final FileChannel channel;
  private final long length;
  private final BoltMeta meta;

  private BoltFile(FileChannel channel, long length, BoltMeta meta) {
    this.channel = channel;
    this.length = length;
    this.meta = meta;
  }

  /**
   * Opens the first {@code length} bytes of {@code file} as a bbolt database and picks its current
   * meta page.
   */
  static BoltFile open(Path file, long length) throws IOException, SnapshotFormatException {
    FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
    try {
      BoltMeta meta = currentMeta(channel, length);
      if (meta.highWater() * meta.pageSize() > length) {
        throw new SnapshotFormatException(
            "the file is truncated: its meta page names "
                + meta.highWater()
                + " pages of "
                + meta.pageSize()
                + " bytes, but it holds "
                + length
                + " bytes");
      }
      return new BoltFile(channel, length, meta);
    } catch (IOException | SnapshotFormatException | RuntimeException e) {
      channel.close();
      throw e;
    }
  }

  private static BoltMeta currentMeta(FileChannel channel, long length)
      throws IOException, SnapshotFormatException {
    if (length < 2 * 1024) {
      throw new SnapshotFormatException(
          "the file is too small (" + length + " bytes) to be a bbolt database");
    }
    BoltMeta first = null;
    SnapshotFormatException firstProblem = null;
    try {
      first = BoltMeta.parse(read(channel, 0, (int) Math.min(4096, length)), 0);
    } catch (SnapshotFormatException e) {
      firstProblem = e;
    }
    // The second meta page sits one page in; without a valid first one, try the usual sizes.
    int[] sizes =
        first != null ? new int[] {first.pageSize()} : new int[] {4096, 8192, 16384, 65536};
    BoltMeta second = null;
    SnapshotFormatException secondProblem = null;
    for (int size : sizes) {
      if (2L * size > length) {
        break;
      }
      try {
        second = BoltMeta.parse(read(channel, size, size), 1);
        if (first == null || second.pageSize() == first.pageSize()) {
          break;
        }
        second = null;
      } catch (SnapshotFormatException e) {
        secondProblem = e;
      }
    }
    if (first == null && second == null) {
      throw new SnapshotFormatException(
          "not an etcd snapshot or bbolt database: "
              + firstProblem.getMessage()
              + (secondProblem != null ? "; " + secondProblem.getMessage() : ""));
    }
    if (first == null) {
      return second;
    }
    return second == null || first.txid() >= second.txid() ? first : second;
  }

  private static ByteBuffer read(FileChannel channel, long position, int size) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(size);
    while (b.hasRemaining()) {
      if (channel.read(b, position + b.position()) < 0) {
        break;
      }
    }
    return b.flip();
  }

  BoltMeta meta() {
    return meta;
  }

  /** Pages below the high-water mark: what the file holds, free pages included. */
  long pages() {
    return meta.highWater();
  }

  /** The page stored at {@code id}, with its overflow pages. */
  BoltPage page(long id) throws IOException, SnapshotFormatException {
    if (id < 2 || id >= meta.highWater()) {
      throw new SnapshotFormatException(
          "a tree points to page " + id + ", outside the file's pages (corrupt file)");
    }
    long position = id * meta.pageSize();
    ByteBuffer header = read(channel, position, BoltPage.HEADER_SIZE);
    if (header.limit() < BoltPage.HEADER_SIZE) {
      throw new SnapshotFormatException("page " + id + " is truncated");
    }
    if (BoltPage.storedId(header) != id) {
      throw new SnapshotFormatException(
          "page " + id + " carries the id " + BoltPage.storedId(header) + " (corrupt file)");
    }
    long size = (Integer.toUnsignedLong(BoltPage.overflow(header)) + 1) * meta.pageSize();
    if (position + size > length || size > Integer.MAX_VALUE) {
      throw new SnapshotFormatException(
          "page " + id + " runs past the end of the file (truncated)");
    }
    return new BoltPage(read(channel, position, (int) size), id);
  }

  /**
   * Visits every leaf page stored in the file, reachable from a tree or not, in page order. Free
   * pages keep what they held until bbolt reuses them, so this finds data a tree no longer names.
   */
  void scanLeaves(LeafVisitor visitor) throws IOException, SnapshotFormatException {
    long id = 2;
    while (id < meta.highWater()) {
      ByteBuffer header = read(channel, id * meta.pageSize(), BoltPage.HEADER_SIZE);
      long next = id + 1;
      // a page that does not carry its own id is the continuation of an earlier one, or garbage
      if (header.limit() == BoltPage.HEADER_SIZE && BoltPage.storedId(header) == id) {
        next = id + 1 + Integer.toUnsignedLong(BoltPage.overflow(header));
        if ((header.getShort(8) & 0xffff) == BoltPage.LEAF) {
          try {
            visitor.visit(page(id));
          } catch (SnapshotFormatException e) {
            next = id + 1; // a damaged free page: nothing to learn from it
          }
        }
      }
      id = next;
    }
  }

  /** The bucket named {@code name} in the root bucket. */
  Bucket bucket(String name) throws IOException, SnapshotFormatException {
    byte[] wanted = name.getBytes(StandardCharsets.US_ASCII);
    Bucket[] found = new Bucket[1];
    walk(
        new Bucket(meta.rootPage(), null),
        leaf -> {
          for (int i = 0; i < leaf.count(); i++) {
            if ((leaf.leafFlags(i) & BoltPage.BUCKET_LEAF) != 0
                && Arrays.equals(leaf.leafKey(i), wanted)) {
              found[0] = bucketOf(leaf.leafValue(i), name);
            }
          }
        });
    if (found[0] == null) {
      throw new SnapshotFormatException("the database has no \"" + name + "\" bucket");
    }
    return found[0];
  }

  /**
   * The page of the inline bucket {@code name} when {@code leaf} (a page of the root bucket) holds
   * it: small buckets live in their parent's leaf instead of pages of their own.
   */
  static BoltPage inlineBucket(BoltPage leaf, String name) {
    byte[] wanted = name.getBytes(StandardCharsets.US_ASCII);
    try {
      for (int i = 0; i < leaf.count(); i++) {
        if ((leaf.leafFlags(i) & BoltPage.BUCKET_LEAF) != 0
            && Arrays.equals(leaf.leafKey(i), wanted)) {
          return bucketOf(leaf.leafValue(i), name).inline();
        }
      }
    } catch (SnapshotFormatException e) {
      return null; // a damaged free page: nothing to learn from it
    }
    return null;
  }

  private static Bucket bucketOf(ByteBuffer value, String name) throws SnapshotFormatException {
    if (value.limit() < 16) {
      throw new SnapshotFormatException("the \"" + name + "\" bucket's header is truncated");
    }
    long root = value.getLong(0);
    if (root != 0) {
      return new Bucket(root, null);
    }
    // An inline bucket: its one leaf page follows the 16-byte bucket header in the value.
    return new Bucket(0, new BoltPage(value.slice(16, value.limit() - 16), 0));
  }

  /** Visits every leaf page of {@code bucket}, in key order. */
  void walk(Bucket bucket, LeafVisitor visitor) throws IOException, SnapshotFormatException {
    if (bucket.inline() != null) {
      visitor.visit(bucket.inline());
      return;
    }
    walk(page(bucket.root()), visitor, 0);
  }

  private void walk(BoltPage page, LeafVisitor visitor, int depth)
      throws IOException, SnapshotFormatException {
    if (page.isLeaf()) {
      visitor.visit(page);
    } else if (page.isBranch()) {
      if (depth >= MAX_DEPTH) {
        throw new SnapshotFormatException(
            "the tree at page " + page.id() + " loops (corrupt file)");
      }
      for (int i = 0; i < page.count(); i++) {
        walk(page(page.child(i)), visitor, depth + 1);
      }
    } else {
      throw new SnapshotFormatException(
          "page "
              + page.id()
              + " should be a branch or leaf page of a tree but is not (corrupt file)");
    }
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
