package io.etcdcrypt.ops.backup;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Snapshots kept in one directory as {@code etcd-snapshot-<UTC time>.db}: names sort by time, and
 * only files of that pattern are ever deleted.
 */
public final class SnapshotRotation {

  private static final String PREFIX = "etcd-snapshot-";
  private static final String SUFFIX = ".db";
  private static final DateTimeFormatter TIME =
      DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);

  private SnapshotRotation() {}

  /** Where a snapshot taken at {@code now} goes. */
  public static Path fileFor(Path dir, Instant now) {
    return dir.resolve(PREFIX + TIME.format(now) + SUFFIX);
  }

  /**
   * Deletes all but the {@code keep} newest snapshots in {@code dir}.
   *
   * @return the files deleted, oldest first
   */
  public static List<Path> prune(Path dir, int keep) throws IOException {
    List<Path> snapshots;
    try (Stream<Path> files = Files.list(dir)) {
      snapshots =
          files
              .filter(
                  p -> {
                    String name = p.getFileName().toString();
                    return name.startsWith(PREFIX) && name.endsWith(SUFFIX);
                  })
              .sorted()
              .toList();
    }
    List<Path> deleted = new ArrayList<>();
    for (Path p : snapshots.subList(0, Math.max(0, snapshots.size() - keep))) {
      Files.deleteIfExists(p);
      deleted.add(p);
    }
    return deleted;
  }
}
