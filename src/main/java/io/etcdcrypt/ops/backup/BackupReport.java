package io.etcdcrypt.ops.backup;

import com.google.gson.GsonBuilder;
import io.etcdcrypt.ops.CensusResult;
import io.etcdcrypt.ops.KeyProblem;
import io.etcdcrypt.snapshot.EtcdSnapshot;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What {@link BackupVerifier} found in one snapshot: the census of the latest revision of every key
 * (what a restore serves), the latest values stored as plaintext where the configuration encrypts,
 * and with {@code --all-revisions} the {@link History}. Holds keys, labels and reasons, never a
 * value.
 */
public final class BackupReport {

  /** The verdict, and the exit code {@code verify-backup} gives for it. */
  public enum Outcome {
    /** Every latest value decrypts and none is plaintext where the configuration encrypts. */
    OK(0),
    /** Some latest value cannot be read with the configuration: the backup does not restore. */
    UNDECRYPTABLE(1),
    /** Plaintext where the configuration encrypts (latest, or with --all-revisions, older). */
    PLAINTEXT(3);

    private final int exitCode;

    Outcome(int exitCode) {
      this.exitCode = exitCode;
    }

    public int exitCode() {
      return exitCode;
    }
  }

  /** A latest value stored as plaintext although its resource's rule encrypts. */
  public record PlaintextValue(String key, String resource) {}

  static final int MAX_LISTED = 1000;

  private final String file;
  private final EtcdSnapshot.Checksum checksum;
  private final long bytes;
  private final long compactedRevision;
  private final CensusResult latest = new CensusResult();
  private final List<PlaintextValue> plaintext = new ArrayList<>();
  private long plaintextCount;
  private long revision;
  private long deletedKeys;
  private History history;

  BackupReport(String file, EtcdSnapshot.Checksum checksum, long bytes, long compactedRevision) {
    this.file = file;
    this.checksum = checksum;
    this.bytes = bytes;
    this.compactedRevision = compactedRevision;
  }

  void revision(long revision) {
    this.revision = revision;
    latest.revision(revision);
  }

  void deletedKey() {
    deletedKeys++;
  }

  void plaintext(PlaintextValue p) {
    plaintextCount++;
    if (plaintext.size() < MAX_LISTED) {
      plaintext.add(p);
    }
  }

  void history(History history) {
    this.history = history;
  }

  /** The census of the latest revision of every key of a selected resource. */
  public CensusResult latest() {
    return latest;
  }

  /** The newest revision in the file. */
  public long revision() {
    return revision;
  }

  public long compactedRevision() {
    return compactedRevision;
  }

  public EtcdSnapshot.Checksum checksum() {
    return checksum;
  }

  /** Keys whose latest record is a deletion (a restore does not serve them). */
  public long deletedKeys() {
    return deletedKeys;
  }

  public long plaintextCount() {
    return plaintextCount;
  }

  /** Up to {@value #MAX_LISTED} latest plaintext values, in key order. */
  public List<PlaintextValue> plaintext() {
    return List.copyOf(plaintext);
  }

  /** Null without {@code --all-revisions}. */
  public History history() {
    return history;
  }

  public Outcome outcome() {
    if (latest.undecryptableCount() > 0) {
      return Outcome.UNDECRYPTABLE;
    }
    if (plaintextCount > 0 || (history != null && history.plaintextRevisions() > 0)) {
      return Outcome.PLAINTEXT;
    }
    return Outcome.OK;
  }

  /** The {@code --output json} document (see docs/operations.md for its fields). */
  public String toJson() {
    Map<String, Object> snapshot = new LinkedHashMap<>();
    snapshot.put("file", file);
    snapshot.put("bytes", bytes);
    snapshot.put("checksum", checksum.name().toLowerCase(Locale.ROOT));
    snapshot.put("revision", revision);
    snapshot.put("compactedRevision", compactedRevision);
    Map<String, Object> l = new LinkedHashMap<>();
    l.put("values", latest.values());
    l.put("deletedKeys", deletedKeys);
    l.put("counts", latest.counts());
    l.put("undecryptableCount", latest.undecryptableCount());
    l.put("undecryptable", latest.undecryptable());
    l.put("plaintextCount", plaintextCount);
    l.put("plaintext", plaintext);
    Map<String, Object> doc = new LinkedHashMap<>();
    doc.put("outcome", outcome().name().toLowerCase(Locale.ROOT));
    doc.put("exitCode", outcome().exitCode());
    doc.put("snapshot", snapshot);
    doc.put("latest", l);
    if (history != null) {
      Map<String, Object> h = new LinkedHashMap<>();
      h.put("records", history.records());
      h.put("freedRecords", history.freedRecords());
      h.put("deletions", history.deletions());
      h.put("counts", history.counts().counts());
      h.put("plaintextRevisions", history.plaintextRevisions());
      h.put("undecryptableRevisions", history.undecryptableRevisions());
      h.put("findingCount", history.findingCount());
      h.put("findings", history.findings());
      doc.put("history", h);
    }
    return new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(doc);
  }

  /** The report for people. */
  public List<String> toText() {
    List<String> lines = new ArrayList<>();
    lines.add(
        "snapshot "
            + file
            + ": "
            + bytes
            + " bytes, "
            + (checksum == EtcdSnapshot.Checksum.VERIFIED
                ? "etcd's SHA-256 checksum verified"
                : "no SHA-256 checksum (a member's db file)")
            + ", revision "
            + revision
            + (compactedRevision > 0
                ? ", compacted at " + compactedRevision
                : ", never compacted"));
    lines.add("");
    lines.add("Latest revision of every key (what a restore serves):");
    lines.addAll(latest.toTable());
    lines.add(latest.summary());
    for (KeyProblem p : latest.undecryptable()) {
      lines.add("undecryptable: " + p);
    }
    more(lines, latest.undecryptableCount(), latest.undecryptable().size());
    for (PlaintextValue p : plaintext) {
      lines.add("plaintext: " + p.key() + " (the configuration encrypts " + p.resource() + ")");
    }
    more(lines, plaintextCount, plaintext.size());
    if (history != null) {
      historyText(lines);
    }
    lines.add("");
    lines.add("RESULT: " + verdict());
    return lines;
  }

  private void historyText(List<String> lines) {
    lines.add("");
    lines.add(
        "Every revision in the file ("
            + history.records()
            + " records, "
            + history.deletions()
            + " of them deletions; "
            + history.freedRecords()
            + " more compacted away but still in free pages):");
    lines.addAll(history.counts().toTable());
    if (history.findingCount() == 0) {
      lines.add(
          "No older revision holds plaintext of an encrypted resource or a value no configured key opens.");
      return;
    }
    lines.add(
        "Older revisions that whoever holds this backup can read, or that only a retired key opens:");
    for (History.Finding f : history.findings()) {
      lines.add(
          "  "
              + f.key()
              + ": "
              + f.kind()
              + (f.freed() ? " (compacted, still in free pages)" : "")
              + " at revisions "
              + f.fromRevision()
              + ".."
              + f.toRevision()
              + " ("
              + f.revisions()
              + (f.revisions() == 1 ? " revision" : " revisions")
              + ")"
              + (f.reason() != null ? ": " + f.reason() : ""));
    }
    more(lines, history.findingCount(), history.findings().size());
    lines.add(
        "To drop them from the next backups: compact at the current revision and defragment every member"
            + " (etcdctl compact "
            + revision
            + "; etcdctl defrag --cluster), then take a new snapshot and delete the old ones.");
  }

  private static void more(List<String> lines, long count, int listed) {
    if (count > listed) {
      lines.add("... and " + (count - listed) + " more");
    }
  }

  private String verdict() {
    return switch (outcome()) {
      case OK ->
          "ok: every latest value decrypts and none is plaintext where the configuration encrypts";
      case UNDECRYPTABLE ->
          "undecryptable: "
              + latest.undecryptableCount()
              + " latest values cannot be read with this configuration; a restore would not serve them";
      case PLAINTEXT ->
          "plaintext: "
              + plaintextCount
              + " latest values"
              + (history != null ? " and " + history.plaintextRevisions() + " older revisions" : "")
              + " are plaintext where the configuration encrypts";
    };
  }
}
