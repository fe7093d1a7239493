package io.etcdcrypt.bench;

import com.google.protobuf.ByteString;
import java.util.HashMap;
import java.util.Map;

/**
 * One thing the load is sent to: direct etcd, etcd's grpc-proxy, or etcd-crypt-proxy with one
 * provider.
 */
final class Target {

  enum Kind {
    ETCD,
    GRPC_PROXY,
    CRYPT_PROXY
  }

  final String name;
  final Kind kind;
  final int port;
  final long pid;

  /**
   * The data set lists read: shared by the targets that store plaintext (etcd, grpc-proxy,
   * identity).
   */
  final String listGroup;

  final String processCommand;
  final Conn conn;
  private final Map<Integer, KeyPool> pools = new HashMap<>();
  long createSeq;

  Target(String name, Kind kind, int port, long pid, String listGroup, String processCommand) {
    this.name = name;
    this.kind = kind;
    this.port = port;
    this.pid = pid;
    this.listGroup = listGroup;
    this.processCommand = processCommand;
    this.conn = new Conn(port);
  }

  /** {@code /registry/secrets/bench-<name>/} */
  String namespace() {
    return Keys.ROOT + "bench-" + name + "/";
  }

  ByteString createPrefix() {
    return Keys.of(namespace() + "c-");
  }

  ByteString createKey(int valueBytes) {
    return Keys.of(namespace() + "c-" + Scenario.sizeLabel(valueBytes) + "-" + (createSeq++));
  }

  ByteString watchPrefix() {
    return Keys.of(namespace() + "w-");
  }

  ByteString listPrefix(int valueBytes) {
    return Keys.of(
        Keys.ROOT + "bench-list-" + listGroup + "-" + Scenario.sizeLabel(valueBytes) + "/");
  }

  synchronized KeyPool pool(int valueBytes) {
    return pools.computeIfAbsent(
        valueBytes, size -> new KeyPool(namespace() + "u-" + Scenario.sizeLabel(size) + "-"));
  }

  boolean isProxy() {
    return kind == Kind.CRYPT_PROXY;
  }

  @Override
  public String toString() {
    return name;
  }

  /**
   * Keys that update and get cycle over; slot s of N in flight owns keys s, s+N, ... so updates
   * never collide.
   */
  static final class KeyPool {
    final ByteString[] keys = new ByteString[Plan.POOL_KEYS];
    final long[] modRevision = new long[Plan.POOL_KEYS];

    KeyPool(String prefix) {
      for (int i = 0; i < keys.length; i++) {
        keys[i] = Keys.of(prefix + String.format("%04d", i));
      }
    }
  }
}
