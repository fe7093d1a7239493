package io.etcdcrypt.ops;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonParseException;
import com.google.protobuf.ByteString;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A rewrap's saved progress: for each scanned key range, the last key up to which every value has
 * been handled (rewritten, found current, or reported), or that the whole range is done. A
 * restarted rewrap continues after that key. The file is JSON, replaced atomically on every save,
 * and removed when a run completes.
 *
 * <p>Progress only counts for the same etcd cluster, {@code --etcd-prefix} and write targets (the
 * first provider and key of every rule, by name): after a configuration change the same ranges must
 * be scanned again, so saved progress that does not match is ignored. The file holds key names and
 * provider/key names, never key material.
 *
 * <pre>{@code
 * {
 *   "version": 1,
 *   "clusterId": "cdf818194e3a8c32",
 *   "etcdPrefix": "/registry/",
 *   "targets": ["secrets=aesgcm:key2"],
 *   "ranges": {"/registry/secrets/": {"after": "/registry/secrets/default/s-4999", "afterBase64": "...", "complete": false}},
 *   "updated": "2025-01-01T10:00:00Z"
 * }
 * }</pre>
 */
public final class RewrapState {

  private static final Logger log = LoggerFactory.getLogger(RewrapState.class);
  private static final int VERSION = 1;
  private static final Gson GSON =
      new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();

  /** The file's JSON shape. */
  private static final class Document {
    int version;
    String clusterId;
    String etcdPrefix;
    List<String> targets;
    Map<String, RangeProgress> ranges = new TreeMap<>();
    String updated;
  }

  private static final class RangeProgress {
    /** The key for people; {@link #afterBase64} is what resuming uses (keys are bytes). */
    String after;

    String afterBase64;
    boolean complete;
  }

  private final Path file;
  private final String etcdPrefix;
  private final List<String> targets;
  private Document doc;
  private boolean bound;
  private boolean dirty;

  private RewrapState(Path file, String etcdPrefix, List<String> targets, Document doc) {
    this.file = file;
    this.etcdPrefix = etcdPrefix;
    this.targets = List.copyOf(targets);
    this.doc = doc;
  }

  /**
   * Reads saved progress from {@code file} (none if it does not exist). It is checked against the
   * cluster later, by {@link #bind}, once the cluster id is known.
   *
   * @param targets the write targets of the configuration now (see {@link RewrapTargets})
   */
  public static RewrapState load(Path file, String etcdPrefix, List<String> targets)
      throws IOException {
    Document doc = null;
    if (Files.exists(file)) {
      try {
        doc = GSON.fromJson(Files.readString(file, StandardCharsets.UTF_8), Document.class);
      } catch (JsonParseException e) {
        log.warn(
            "ignoring the rewrap state file {}: it is not valid JSON ({}); starting from the beginning",
            file,
            e.getMessage());
      }
    }
    return new RewrapState(file, etcdPrefix, targets, doc);
  }

  /** Progress that starts from nothing (and replaces {@code file} on the first save). */
  public static RewrapState fresh(Path file, String etcdPrefix, List<String> targets) {
    return new RewrapState(file, etcdPrefix, targets, null);
  }

  /**
   * The default location: {@code $XDG_STATE_HOME/etcd-crypt-proxy/rewrap-state.json} when that
   * variable is set, else {@code etcd-crypt-proxy-rewrap-state.json} in the working directory.
   */
  public static Path defaultFile(Map<String, String> env) {
    String xdg = env.get("XDG_STATE_HOME");
    if (xdg != null && !xdg.isBlank()) {
      return Path.of(xdg, "etcd-crypt-proxy", "rewrap-state.json");
    }
    return Path.of("etcd-crypt-proxy-rewrap-state.json");
  }

  public Path file() {
    return file;
  }

  /**
   * Keeps the saved progress only if it was made against cluster {@code clusterId} with the same
   * prefix and targets; otherwise says why it is ignored and starts over.
   */
  synchronized void bind(long clusterId) {
    String id = Long.toHexString(clusterId);
    if (doc != null && !bound) {
      String mismatch =
          doc.version != VERSION
              ? "it was written by another version of this tool"
              : !id.equals(doc.clusterId)
                  ? "it belongs to another etcd cluster (id " + doc.clusterId + ")"
                  : !etcdPrefix.equals(doc.etcdPrefix)
                      ? "it was made for --etcd-prefix " + doc.etcdPrefix
                      : !targets.equals(doc.targets)
                          ? "the encryption configuration now writes with other providers or keys"
                              + " ("
                              + String.join(", ", targets)
                              + " instead of "
                              + (doc.targets == null ? "none" : String.join(", ", doc.targets))
                              + ")"
                          : null;
      if (mismatch != null) {
        log.info(
            "ignoring the saved progress in {}: {}; starting from the beginning", file, mismatch);
        doc = null;
      } else if (!doc.ranges.isEmpty()) {
        log.info("resuming from the saved progress in {}", file);
      }
    }
    if (doc == null) {
      doc = new Document();
      doc.version = VERSION;
      doc.clusterId = id;
      doc.etcdPrefix = etcdPrefix;
      doc.targets = targets;
    }
    if (doc.ranges == null) {
      doc.ranges = new TreeMap<>();
    }
    bound = true;
  }

  /** Whether an earlier run finished {@code scope} entirely. */
  synchronized boolean isComplete(Scope scope) {
    RangeProgress p = progress(scope);
    return p != null && p.complete;
  }

  /** The key an earlier run handled everything up to in {@code scope}, or null. */
  synchronized ByteString resumeAfter(Scope scope) {
    RangeProgress p = progress(scope);
    if (p == null || p.afterBase64 == null) {
      return null;
    }
    try {
      return ByteString.copyFrom(Base64.getDecoder().decode(p.afterBase64));
    } catch (IllegalArgumentException e) {
      log.warn(
          "ignoring the saved position of {} in {}: it is not valid base64", scope.name(), file);
      return null;
    }
  }

  synchronized void completedThrough(Scope scope, ByteString key) {
    RangeProgress p = doc.ranges.computeIfAbsent(scope.name(), n -> new RangeProgress());
    p.after = StoredAs.printable(key);
    p.afterBase64 = Base64.getEncoder().encodeToString(key.toByteArray());
    dirty = true;
  }

  synchronized void rangeComplete(Scope scope) {
    doc.ranges.computeIfAbsent(scope.name(), n -> new RangeProgress()).complete = true;
    dirty = true;
  }

  /**
   * Writes the progress if it changed since the last save: to a temporary file, then renamed over
   * the old one.
   */
  public synchronized void save() throws IOException {
    if (!dirty || doc == null) {
      return;
    }
    doc.updated = Instant.now().toString();
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp = dir.resolve(file.getFileName() + ".tmp");
    Files.writeString(tmp, GSON.toJson(doc) + "\n", StandardCharsets.UTF_8);
    try {
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
    }
    dirty = false;
  }

  /** Removes the file: the run completed, or its progress must not be trusted by the next run. */
  public synchronized void delete() throws IOException {
    Files.deleteIfExists(file);
    doc = null;
    bound = false;
    dirty = false;
  }

  private RangeProgress progress(Scope scope) {
    Objects.requireNonNull(doc, "bind() first");
    return doc.ranges.get(scope.name());
  }
}
