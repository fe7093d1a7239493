package io.etcdcrypt.ops.backup;

import io.etcdcrypt.ops.CensusResult;
import io.etcdcrypt.ops.StoredAs;
import io.etcdcrypt.snapshot.Revision;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What the revisions a snapshot still holds give away (with {@code --all-revisions}): the census of
 * every stored revision, and per key the older revisions (not the one a restore serves) that hold
 * plaintext of an encrypted resource or values no configured key opens, with their revision range.
 */
public final class History {

  /** At most this many findings are listed; the counts are always complete. */
  static final int MAX_LISTED = 1000;

  /**
   * Older revisions of one key that expose data the same way.
   *
   * @param kind {@code plaintext} or {@code undecryptable}
   * @param freed true for revisions etcd compacted away whose bytes the file still holds in free
   *     pages (until a defragmentation)
   * @param reason why they cannot be read ({@code undecryptable} only)
   */
  public record Finding(
      String key,
      String resource,
      String kind,
      boolean freed,
      long fromRevision,
      long toRevision,
      long revisions,
      String reason) {

    Finding widen(long revision) {
      return new Finding(
          key,
          resource,
          kind,
          freed,
          Math.min(fromRevision, revision),
          Math.max(toRevision, revision),
          revisions + 1,
          reason);
    }
  }

  private final CensusResult counts = new CensusResult();
  private final Map<String, Finding> findings = new TreeMap<>();
  private long records;
  private long freedRecords;
  private long deletions;
  private long plaintextRevisions;
  private long undecryptableRevisions;

  void deletion() {
    records++;
    deletions++;
  }

  void add(String key, StoredAs v, Exposure exposure, Revision revision, boolean latest) {
    records++;
    counts.add(key, v);
    if (!latest) { // the latest value is the report's own business
      expose(key, v, exposure, revision, false);
    }
  }

  /** A record compacted away that a free page still holds. */
  void addFreed(String key, StoredAs v, Exposure exposure, Revision revision) {
    freedRecords++;
    expose(key, v, exposure, revision, true);
  }

  private void expose(String key, StoredAs v, Exposure exposure, Revision revision, boolean freed) {
    if (exposure == Exposure.NONE) {
      return;
    }
    String kind = exposure == Exposure.PLAINTEXT ? "plaintext" : "undecryptable";
    if (exposure == Exposure.PLAINTEXT) {
      plaintextRevisions++;
    } else {
      undecryptableRevisions++;
    }
    findings.merge(
        key + "\0" + kind + "\0" + freed,
        new Finding(
            key,
            v.resource(),
            kind,
            freed,
            revision.main(),
            revision.main(),
            1,
            exposure == Exposure.PLAINTEXT ? null : v.error()),
        (old, n) -> old.widen(revision.main()));
  }

  /** Every stored value of a selected resource, each revision counted. */
  public CensusResult counts() {
    return counts;
  }

  /** Records read, deletions included. */
  public long records() {
    return records;
  }

  /** Compacted records found in free pages (each revision counted once). */
  public long freedRecords() {
    return freedRecords;
  }

  public long deletions() {
    return deletions;
  }

  /**
   * Older revisions holding plaintext of a resource the configuration encrypts, freed ones
   * included.
   */
  public long plaintextRevisions() {
    return plaintextRevisions;
  }

  /** Older revisions no configured provider or key opens. */
  public long undecryptableRevisions() {
    return undecryptableRevisions;
  }

  /** How many keys have findings of each kind, all listed or not. */
  public long findingCount() {
    return findings.size();
  }

  /** Up to {@value #MAX_LISTED} findings, by key. */
  public List<Finding> findings() {
    List<Finding> out = new ArrayList<>();
    for (Finding f : findings.values()) {
      if (out.size() == MAX_LISTED) {
        break;
      }
      out.add(f);
    }
    return out;
  }
}
