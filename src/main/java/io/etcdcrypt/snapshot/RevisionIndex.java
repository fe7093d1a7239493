package io.etcdcrypt.snapshot;

import java.util.Arrays;

/**
 * The revisions a snapshot's {@code key} bucket holds, added in the bucket's (ascending) order and
 * looked up by binary search: 16 bytes a record, no object per record.
 */
public final class RevisionIndex {

  private long[] mains = new long[1024];
  private long[] subs = new long[1024];
  private int size;

  /**
   * @throws SnapshotFormatException when {@code r} does not come after the last one added: bbolt
   *     keeps keys sorted, so the file is corrupt
   */
  public void add(Revision r) throws SnapshotFormatException {
    if (size > 0 && compare(size - 1, r.main(), r.sub()) >= 0) {
      throw new SnapshotFormatException(
          "the key bucket is out of order at revision " + r + " (corrupt file)");
    }
    if (size == mains.length) {
      mains = Arrays.copyOf(mains, size * 2);
      subs = Arrays.copyOf(subs, size * 2);
    }
    mains[size] = r.main();
    subs[size] = r.sub();
    size++;
  }

  public boolean contains(Revision r) {
    int lo = 0;
    int hi = size - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      int c = compare(mid, r.main(), r.sub());
      if (c == 0) {
        return true;
      }
      if (c < 0) {
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return false;
  }

  public int size() {
    return size;
  }

  private int compare(int i, long main, long sub) {
    int c = Long.compare(mains[i], main);
    return c != 0 ? c : Long.compare(subs[i], sub);
  }
}
