package io.etcdcrypt.snapshot;

import io.etcdcrypt.etcd.mvccpb.KeyValue;
import java.io.IOException;

/** Receives the records of an etcd snapshot's {@code key} bucket. */
@FunctionalInterface
public interface RevisionVisitor {

  /**
   * @param location where the record lies, for {@link EtcdSnapshot#read}
   */
  void visit(Revision revision, long location, RecordValue value)
      throws IOException, SnapshotFormatException;

  /** The stored record, decoded on demand (most callers need only the key). */
  interface RecordValue {
    /** The etcd key the record is about. */
    com.google.protobuf.ByteString key() throws SnapshotFormatException;

    KeyValue keyValue() throws SnapshotFormatException;
  }
}
