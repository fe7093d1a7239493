package io.etcdcrypt.snapshot;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import io.etcdcrypt.etcd.mvccpb.KeyValue;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;

/**
 * An etcd snapshot read straight from its file, without etcd: the bbolt database of a member
 * ({@code member/snap/db}) or what {@code etcdctl snapshot save} writes, which is that database
 * followed by the SHA-256 of it that etcd's Maintenance/Snapshot sends last (etcd's snapshot
 * restore tells the two apart the same way: a file whose size modulo 512 is 32 carries the hash).
 *
 * <p>The {@code key} bucket maps revisions to serialized {@code mvccpb.KeyValue}s, in revision
 * order; every record etcd has not compacted away is there, deletions included.
 */
public final class EtcdSnapshot implements AutoCloseable {

  /** Whether the file carried etcd's SHA-256 trailer (which was then checked). */
  public enum Checksum {
    VERIFIED,
    ABSENT
  }

  private static final int SHA256_SIZE = 32;
  private static final String KEY_BUCKET = "key";
  private static final byte[] FINISHED_COMPACT_REV =
      "finishedCompactRev".getBytes(StandardCharsets.US_ASCII);

  private final BoltFile bolt;
  private final BoltFile.Bucket keys;
  private final Checksum checksum;
  private final long size;

  private EtcdSnapshot(BoltFile bolt, BoltFile.Bucket keys, Checksum checksum, long size) {
    this.bolt = bolt;
    this.keys = keys;
    this.checksum = checksum;
    this.size = size;
  }

  /**
   * Opens {@code file}; when it carries etcd's SHA-256 trailer, the whole file is read once to
   * check it.
   *
   * @throws SnapshotFormatException when it is not an etcd snapshot, or corrupt or truncated
   * @throws IOException when it cannot be read
   */
  public static EtcdSnapshot open(Path file) throws IOException, SnapshotFormatException {
    long size = Files.size(file);
    boolean hashed = size % 512 == SHA256_SIZE;
    long dbLength = hashed ? size - SHA256_SIZE : size;
    if (hashed) {
      verifyTrailer(file, dbLength);
    }
    BoltFile bolt = BoltFile.open(file, dbLength);
    try {
      BoltFile.Bucket keys;
      try {
        keys = bolt.bucket(KEY_BUCKET);
      } catch (SnapshotFormatException e) {
        throw new SnapshotFormatException(
            "a bbolt database, but not etcd's (" + e.getMessage() + ")");
      }
      return new EtcdSnapshot(bolt, keys, hashed ? Checksum.VERIFIED : Checksum.ABSENT, size);
    } catch (SnapshotFormatException | RuntimeException e) {
      bolt.close();
      throw e;
    }
  }

  private static void verifyTrailer(Path file, long dbLength)
      throws IOException, SnapshotFormatException {
    MessageDigest sha;
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
    ByteBuffer buf = ByteBuffer.allocate(1 << 20);
    byte[] trailer = new byte[SHA256_SIZE];
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long position = 0;
      while (position < dbLength) {
        buf.clear().limit((int) Math.min(buf.capacity(), dbLength - position));
        int n = ch.read(buf, position);
        if (n < 0) {
          throw new SnapshotFormatException("the file shrank while it was read");
        }
        sha.update(buf.flip());
        position += n;
      }
      ByteBuffer t = ByteBuffer.wrap(trailer);
      while (t.hasRemaining() && ch.read(t, dbLength + t.position()) >= 0) {}
    }
    if (!Arrays.equals(sha.digest(), trailer)) {
      throw new SnapshotFormatException(
          "the file fails the SHA-256 checksum etcd appended to it: it is corrupt or truncated");
    }
  }

  public Checksum checksum() {
    return checksum;
  }

  /** The file's size in bytes. */
  public long size() {
    return size;
  }

  /** The revision etcd last compacted at (0 when it never did). */
  public long compactedRevision() throws IOException, SnapshotFormatException {
    BoltFile.Bucket meta;
    try {
      meta = bolt.bucket("meta");
    } catch (SnapshotFormatException e) {
      return 0; // a database without etcd's meta bucket was never compacted
    }
    long[] rev = {0};
    bolt.walk(
        meta,
        leaf -> {
          for (int i = 0; i < leaf.count(); i++) {
            if (Arrays.equals(leaf.leafKey(i), FINISHED_COMPACT_REV)) {
              ByteBuffer v = leaf.leafValue(i);
              byte[] b = new byte[v.remaining()];
              v.get(b);
              rev[0] = Revision.parse(b).main();
            }
          }
        });
    return rev[0];
  }

  /** Visits every record of the {@code key} bucket in revision order. */
  public void forEachRevision(RevisionVisitor visitor) throws IOException, SnapshotFormatException {
    bolt.walk(
        keys,
        leaf -> {
          for (int i = 0; i < leaf.count(); i++) {
            visit(leaf, i, visitor);
          }
        });
  }

  /**
   * Visits the records at {@code sortedLocations} (as {@link #forEachRevision} gave them, sorted
   * ascending), reading each page once.
   */
  public void read(long[] sortedLocations, RevisionVisitor visitor)
      throws IOException, SnapshotFormatException {
    BoltPage page = null;
    for (long location : sortedLocations) {
      long id = location >>> 16;
      if (page == null || page.id() != id) {
        page = id == 0 ? keys.inline() : bolt.page(id);
        if (page == null || !page.isLeaf()) {
          throw new SnapshotFormatException("no record at location " + location);
        }
      }
      int index = (int) (location & 0xffff);
      if (index >= page.count()) {
        throw new SnapshotFormatException("no record at location " + location);
      }
      visit(page, index, visitor);
    }
  }

  /**
   * Visits the records of the {@code key} bucket's former pages that bbolt freed (after a
   * compaction, or when it rewrote a page) but has not reused: a snapshot carries them until etcd
   * is defragmented. A record can stand in several such pages, and in a live one too: {@code
   * isLive} tells which revisions the tree still holds, and each other one is visited once.
   */
  public void forEachFreedRevision(
      java.util.function.Predicate<Revision> isLive, RevisionVisitor visitor)
      throws IOException, SnapshotFormatException {
    java.util.Set<Revision> seen = new java.util.HashSet<>();
    bolt.scanLeaves(
        leaf -> {
          BoltPage inline = BoltFile.inlineBucket(leaf, KEY_BUCKET);
          visitFreed(inline != null ? inline : leaf, isLive, seen, visitor);
        });
  }

  private static void visitFreed(
      BoltPage leaf,
      java.util.function.Predicate<Revision> isLive,
      java.util.Set<Revision> seen,
      RevisionVisitor visitor)
      throws IOException, SnapshotFormatException {
    java.util.List<Integer> records = new java.util.ArrayList<>();
    for (int i = 0; i < leaf.count(); i++) {
      Revision r;
      try {
        r = Revision.parse(leaf.leafKey(i));
        new Record(leaf.leafValue(i), r).keyValue();
      } catch (SnapshotFormatException e) {
        return; // not a page of the key bucket
      }
      if (!isLive.test(r) && seen.add(r)) {
        records.add(i);
      }
    }
    for (int i : records) {
      visit(leaf, i, visitor);
    }
  }

  private static void visit(BoltPage leaf, int i, RevisionVisitor visitor)
      throws IOException, SnapshotFormatException {
    Revision revision = Revision.parse(leaf.leafKey(i));
    ByteBuffer stored = leaf.leafValue(i);
    visitor.visit(revision, (leaf.id() << 16) | i, new Record(stored, revision));
  }

  /** A record's KeyValue bytes, parsed when asked. */
  private record Record(ByteBuffer stored, Revision revision)
      implements RevisionVisitor.RecordValue {

    @Override
    public ByteString key() throws SnapshotFormatException {
      try {
        CodedInputStream in = CodedInputStream.newInstance(stored.duplicate());
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
          if (tag == (KeyValue.KEY_FIELD_NUMBER << 3 | 2)) {
            return in.readBytes();
          }
          in.skipField(tag);
        }
        throw new SnapshotFormatException("the record of revision " + revision + " has no key");
      } catch (IOException e) {
        throw corrupt(e);
      }
    }

    @Override
    public KeyValue keyValue() throws SnapshotFormatException {
      try {
        return KeyValue.parseFrom(stored.duplicate());
      } catch (InvalidProtocolBufferException e) {
        throw corrupt(e);
      }
    }

    private SnapshotFormatException corrupt(IOException e) {
      return new SnapshotFormatException(
          "the record of revision " + revision + " is not a valid mvccpb.KeyValue (corrupt file)");
    }
  }

  @Override
  public void close() throws IOException {
    bolt.close();
  }
}
