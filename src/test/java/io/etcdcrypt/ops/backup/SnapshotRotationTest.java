package io.etcdcrypt.ops.backup;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(10)
class SnapshotRotationTest {

  @TempDir Path dir;

  @Test
  void namesSortByTimeAndOnlySnapshotsArePruned() throws Exception {
    Instant t = Instant.parse("2026-12-05T09:00:00Z");
    for (int i = 0; i < 5; i++) {
      Files.writeString(SnapshotRotation.fileFor(dir, t.plusSeconds(3600L * i)), "x");
    }
    Files.writeString(dir.resolve("notes.txt"), "kept");
    Files.writeString(dir.resolve("etcd-snapshot-manual.db.part"), "kept");
    assertEquals(
        dir.resolve("etcd-snapshot-20261205T090000Z.db"), SnapshotRotation.fileFor(dir, t));

    List<Path> deleted = SnapshotRotation.prune(dir, 2);

    assertEquals(
        List.of(
            dir.resolve("etcd-snapshot-20261205T090000Z.db"),
            dir.resolve("etcd-snapshot-20261205T100000Z.db"),
            dir.resolve("etcd-snapshot-20261205T110000Z.db")),
        deleted);
    try (Stream<Path> left = Files.list(dir)) {
      assertEquals(
          List.of(
              "etcd-snapshot-20261205T120000Z.db",
              "etcd-snapshot-20261205T130000Z.db",
              "etcd-snapshot-manual.db.part",
              "notes.txt"),
          left.map(p -> p.getFileName().toString()).sorted().toList());
    }
    assertEquals(List.of(), SnapshotRotation.prune(dir, 5));
  }
}
