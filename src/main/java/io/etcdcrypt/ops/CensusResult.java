package io.etcdcrypt.ops;

import com.google.gson.GsonBuilder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a {@link Census} found: per resource, how many values are stored under each label (see
 * {@link StoredAs}), plus the keys that are stale or unreadable. Built by one thread, read after
 * the census ends.
 */
public final class CensusResult {

  /** At most this many keys are kept per list; the counts are always complete. */
  static final int MAX_LISTED_KEYS = 1000;

  /** The values of one resource stored under one label. */
  public static final class Bucket {
    private final StoredAs.State state;
    private long count;
    private long stale;

    Bucket(StoredAs.State state) {
      this.state = state;
    }

    public long count() {
      return count;
    }

    /**
     * How many of them need a rewrap (all or none, except for KMS v2 values written in the older
     * DEK mode).
     */
    public long stale() {
      return stale;
    }

    public StoredAs.State state() {
      return state;
    }

    String describe() {
      return switch (state) {
        case UNDECRYPTABLE -> "cannot be read";
        case NO_RULE -> "plaintext (the resource has no rule)";
        case CURRENT, STALE -> stale == 0 ? "current" : stale == count ? "stale" : stale + " stale";
      };
    }
  }

  private final Map<String, Map<String, Bucket>> byResource = new TreeMap<>();
  private final List<KeyProblem> undecryptable = new ArrayList<>();
  private final List<String> staleKeys = new ArrayList<>();
  private long values;
  private long staleCount;
  private long undecryptableCount;
  private long revision;

  /** Counts the value stored at {@code key}. */
  public void add(String key, StoredAs v) {
    Bucket b =
        byResource
            .computeIfAbsent(v.resource(), r -> new TreeMap<>())
            .computeIfAbsent(v.label(), l -> new Bucket(v.state()));
    b.count++;
    values++;
    if (v.state() == StoredAs.State.STALE) {
      b.stale++;
      staleCount++;
      if (staleKeys.size() < MAX_LISTED_KEYS) {
        staleKeys.add(key);
      }
    } else if (v.state() == StoredAs.State.UNDECRYPTABLE) {
      undecryptableCount++;
      if (undecryptable.size() < MAX_LISTED_KEYS) {
        undecryptable.add(new KeyProblem(key, v.error()));
      }
    }
  }

  public void revision(long revision) {
    this.revision = revision;
  }

  /**
   * The etcd revision the census read at (the last one, if it had to re-pin after a compaction).
   */
  public long revision() {
    return revision;
  }

  /** Counted values (keys of selected resources). */
  public long values() {
    return values;
  }

  public long staleCount() {
    return staleCount;
  }

  public long undecryptableCount() {
    return undecryptableCount;
  }

  /** Up to {@value #MAX_LISTED_KEYS} unreadable keys with the reason each cannot be read. */
  public List<KeyProblem> undecryptable() {
    return Collections.unmodifiableList(undecryptable);
  }

  /** Up to {@value #MAX_LISTED_KEYS} keys whose values need a rewrap. */
  public List<String> staleKeys() {
    return Collections.unmodifiableList(staleKeys);
  }

  /** Resource → label → bucket, both sorted by name. */
  public Map<String, Map<String, Bucket>> buckets() {
    return Collections.unmodifiableMap(byResource);
  }

  /** Resource → label → count: the {@code --output json} document. */
  public Map<String, Map<String, Long>> counts() {
    Map<String, Map<String, Long>> out = new LinkedHashMap<>();
    byResource.forEach(
        (resource, labels) -> {
          Map<String, Long> m = new LinkedHashMap<>();
          labels.forEach((label, b) -> m.put(label, b.count()));
          out.put(resource, m);
        });
    return out;
  }

  /** {@code {"<resource>": {"<label>": count}}}. */
  public String toJson() {
    return new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(counts());
  }

  /** A table for people: one row per resource and label, with what it means for a rewrap. */
  public List<String> toTable() {
    List<String[]> rows = new ArrayList<>();
    rows.add(new String[] {"RESOURCE", "STORED AS", "VALUES", "STATE"});
    byResource.forEach(
        (resource, labels) ->
            labels.forEach(
                (label, b) ->
                    rows.add(
                        new String[] {resource, label, Long.toString(b.count()), b.describe()})));
    int[] width = new int[4];
    for (String[] r : rows) {
      for (int i = 0; i < 4; i++) {
        width[i] = Math.max(width[i], r[i].length());
      }
    }
    List<String> lines = new ArrayList<>();
    for (String[] r : rows) {
      lines.add(
          String.format(
                  "%-" + width[0] + "s  %-" + width[1] + "s  %" + width[2] + "s  %s",
                  r[0],
                  r[1],
                  r[2],
                  r[3])
              .stripTrailing());
    }
    return lines;
  }

  /** One line: totals and what to do about them. */
  public String summary() {
    StringBuilder sb =
        new StringBuilder()
            .append(values)
            .append(" values in ")
            .append(byResource.size())
            .append(" resources at revision ")
            .append(revision)
            .append(": ");
    if (staleCount == 0 && undecryptableCount == 0) {
      return sb.append("every value is written the way the configuration writes it now").toString();
    }
    List<String> parts = new ArrayList<>();
    if (staleCount > 0) {
      parts.add(staleCount + " stale (rewrap rewrites them)");
    }
    if (undecryptableCount > 0) {
      parts.add(undecryptableCount + " undecryptable (no configured provider or key opens them)");
    }
    return sb.append(String.join(", ", parts)).toString();
  }
}
