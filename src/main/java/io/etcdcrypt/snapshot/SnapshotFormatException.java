package io.etcdcrypt.snapshot;

/**
 * The file is not an etcd snapshot, or it is corrupt or truncated: the message says where and what,
 * never the bytes it holds.
 */
public final class SnapshotFormatException extends Exception {

  public SnapshotFormatException(String message) {
    super(message);
  }
}
