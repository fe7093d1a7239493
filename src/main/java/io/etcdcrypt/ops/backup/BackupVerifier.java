package io.etcdcrypt.ops.backup;

import com.google.protobuf.ByteString;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.etcd.mvccpb.KeyValue;
import io.etcdcrypt.ops.ResourceSelection;
import io.etcdcrypt.ops.StoredAs;
import io.etcdcrypt.snapshot.EtcdSnapshot;
import io.etcdcrypt.snapshot.RevisionIndex;
import io.etcdcrypt.snapshot.SnapshotFormatException;
import java.io.IOException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Verifies an etcd snapshot against an EncryptionConfiguration, reading the file directly: which
 * latest value a restore would serve, classified as {@code census} classifies a live cluster, and
 * optionally what every older revision in the file gives away.
 *
 * <p>Passes over the file, none holding values: the first maps each key to the location of its
 * latest record; the second opens those records page by page; with history, the third opens every
 * record and the fourth reads every leaf page for records etcd compacted away but the file still
 * holds in free pages. The codec caches KMS data keys and seeds, so values under one seed cost one
 * plugin call.
 */
public final class BackupVerifier {

  private final EncryptionCodec codec;
  private final ResourceSelection selection;

  public BackupVerifier(EncryptionCodec codec, ResourceSelection selection) {
    this.codec = codec;
    this.selection = selection;
  }

  public BackupReport verify(String name, EtcdSnapshot snapshot, boolean allRevisions)
      throws IOException, SnapshotFormatException {
    BackupReport report =
        new BackupReport(name, snapshot.checksum(), snapshot.size(), snapshot.compactedRevision());
    // key -> location of its latest record, complemented (~) when that record is a deletion
    Map<ByteString, Long> latest = new HashMap<>();
    RevisionIndex stored = new RevisionIndex();
    long[] newest = {0};
    snapshot.forEachRevision(
        (revision, location, record) -> {
          latest.put(record.key(), revision.tombstone() ? ~location : location);
          newest[0] = Math.max(newest[0], revision.main());
          stored.add(revision);
        });
    report.revision(newest[0]);
    long[] live = latest.values().stream().mapToLong(Long::longValue).filter(l -> l >= 0).toArray();
    Arrays.sort(live);
    latest.forEach(
        (key, location) -> {
          if (location < 0 && classify(key, ByteString.EMPTY) != null) {
            report.deletedKey();
          }
        });
    snapshot.read(
        live,
        (revision, location, record) -> {
          KeyValue kv = record.keyValue();
          StoredAs v = classify(kv.getKey(), kv.getValue());
          if (v != null) {
            String key = kv.getKey().toStringUtf8();
            report.latest().add(key, v);
            if (Exposure.of(v, kv.getValue()) == Exposure.PLAINTEXT) {
              report.plaintext(new BackupReport.PlaintextValue(key, v.resource()));
            }
          }
        });
    if (allRevisions) {
      History history = history(snapshot, latest);
      freed(snapshot, stored, history);
      report.history(history);
    }
    return report;
  }

  private History history(EtcdSnapshot snapshot, Map<ByteString, Long> latest)
      throws IOException, SnapshotFormatException {
    History history = new History();
    snapshot.forEachRevision(
        (revision, location, record) -> {
          KeyValue kv = record.keyValue();
          if (revision.tombstone()) {
            if (classify(kv.getKey(), ByteString.EMPTY) != null) {
              history.deletion();
            }
            return;
          }
          StoredAs v = classify(kv.getKey(), kv.getValue());
          if (v != null) {
            history.add(
                kv.getKey().toStringUtf8(),
                v,
                Exposure.of(v, kv.getValue()),
                revision,
                latest.get(kv.getKey()) == location);
          }
        });
    return history;
  }

  private void freed(EtcdSnapshot snapshot, RevisionIndex stored, History history)
      throws IOException, SnapshotFormatException {
    snapshot.forEachFreedRevision(
        stored::contains,
        (revision, location, record) -> {
          KeyValue kv = record.keyValue();
          StoredAs v = revision.tombstone() ? null : classify(kv.getKey(), kv.getValue());
          if (v != null) {
            history.addFreed(
                kv.getKey().toStringUtf8(), v, Exposure.of(v, kv.getValue()), revision);
          }
        });
  }

  /** Null for keys that are not objects, or of resources not selected. */
  private StoredAs classify(ByteString key, ByteString value) {
    StoredAs v = StoredAs.classify(codec, key, value);
    return v != null && selection.includes(v.resource()) ? v : null;
  }
}
