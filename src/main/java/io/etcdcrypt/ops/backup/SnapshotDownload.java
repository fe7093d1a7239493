package io.etcdcrypt.ops.backup;

import io.etcdcrypt.etcd.etcdserverpb.MaintenanceGrpc;
import io.etcdcrypt.etcd.etcdserverpb.SnapshotRequest;
import io.etcdcrypt.etcd.etcdserverpb.SnapshotResponse;
import io.etcdcrypt.ops.OpsException;
import io.grpc.Channel;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;

/**
 * Streams etcd's Maintenance/Snapshot from one member into a file, as {@code etcdctl snapshot save}
 * does: the database, then the SHA-256 of it that etcd sends last, so the file restores with etcd's
 * own tools and its checksum is checked when it is read. Written to {@code FILE.part} and renamed
 * when complete, so a failed download never leaves a file that looks whole.
 */
public final class SnapshotDownload {

  private static final int SHA256_SIZE = 32;

  private SnapshotDownload() {}

  /**
   * @return the bytes written
   * @throws OpsException when etcd fails the stream, ends it early, or sends no checksum
   * @throws IOException when the file cannot be written
   */
  public static long save(Channel etcd, Path file, Duration timeout)
      throws OpsException, IOException {
    Path part = file.resolveSibling(file.getFileName() + ".part");
    long written = 0;
    long remaining = -1;
    try (OutputStream out = Files.newOutputStream(part)) {
      Iterator<SnapshotResponse> stream =
          MaintenanceGrpc.newBlockingStub(etcd)
              .withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)
              .snapshot(SnapshotRequest.getDefaultInstance());
      while (stream.hasNext()) {
        SnapshotResponse r = stream.next();
        r.getBlob().writeTo(out);
        written += r.getBlob().size();
        remaining = r.getRemainingBytes();
      }
    } catch (StatusRuntimeException e) {
      Files.deleteIfExists(part);
      throw new OpsException(
          "etcd's snapshot stream failed after "
              + written
              + " bytes: "
              + e.getStatus().getCode()
              + " "
              + e.getStatus().getDescription(),
          e);
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(part);
      throw e;
    }
    if (remaining != 0 || written % 512 != SHA256_SIZE) {
      Files.deleteIfExists(part);
      throw new OpsException(
          "etcd's snapshot stream ended after "
              + written
              + " bytes without the whole database and its SHA-256 checksum; take the snapshot again");
    }
    Files.move(part, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    return written;
  }
}
