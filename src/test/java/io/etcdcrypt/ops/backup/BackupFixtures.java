package io.etcdcrypt.ops.backup;

import static io.etcdcrypt.ops.OpsFixtures.bs;

import com.google.protobuf.ByteString;
import io.etcd.jetcd.Client;
import io.etcdcrypt.config.ResourceResolver;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.etcd.etcdserverpb.DeleteRangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.ops.Census;
import io.etcdcrypt.ops.CensusResult;
import io.etcdcrypt.ops.ResourceSelection;
import io.etcdcrypt.ops.Scopes;
import io.etcdcrypt.snapshot.EtcdSnapshot;
import io.etcdcrypt.testing.Channels;
import io.etcdcrypt.testing.EtcdProcess;
import io.etcdcrypt.testing.EtcdRelease;
import io.etcdcrypt.testing.Etcdctl;
import io.etcdcrypt.testing.ProxyFixture;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Writes through the proxy and straight to etcd, snapshots, and verifies snapshots. */
public final class BackupFixtures {

  private BackupFixtures() {}

  /** A one-member etcd and a raw channel to it. */
  public record Live(EtcdProcess etcd, ManagedChannel raw) implements AutoCloseable {

    public static Live start(EtcdRelease release) {
      EtcdProcess etcd = EtcdProcess.startSingle(release);
      return new Live(etcd, etcd.channel());
    }

    @Override
    public void close() {
      raw.shutdownNow();
      etcd.close();
    }
  }

  /** Puts key/value pairs through a proxy that applies {@code codec}. */
  public static void writeThrough(EncryptionCodec codec, String etcdEndpoint, String... keyValues)
      throws Exception {
    try (ProxyFixture proxy = ProxyFixture.start(codec, etcdEndpoint);
        Client client = proxy.client()) {
      for (int i = 0; i < keyValues.length; i += 2) {
        client.getKVClient().put(bs(keyValues[i]), bs(keyValues[i + 1])).get(10, TimeUnit.SECONDS);
      }
    }
  }

  /** Puts a value as it is, bypassing any proxy. */
  public static void putRaw(Channel etcd, String key, String value) {
    KVGrpc.newBlockingStub(etcd)
        .withInterceptors(Channels.DEFAULT_DEADLINE)
        .put(
            PutRequest.newBuilder()
                .setKey(ByteString.copyFromUtf8(key))
                .setValue(ByteString.copyFromUtf8(value))
                .build());
  }

  public static void deleteRaw(Channel etcd, String key) {
    KVGrpc.newBlockingStub(etcd)
        .withInterceptors(Channels.DEFAULT_DEADLINE)
        .deleteRange(DeleteRangeRequest.newBuilder().setKey(ByteString.copyFromUtf8(key)).build());
  }

  /** {@code etcdctl snapshot save file}. */
  public static Path save(EtcdProcess etcd, Path file) {
    new Etcdctl(etcd.endpoint()).run("snapshot", "save", file.toString()).assertOk();
    return file;
  }

  /** {@code census} of everything under /registry, on the live cluster. */
  public static CensusResult census(EncryptionCodec codec, Channel etcd) throws Exception {
    return new Census(codec, etcd, 100, Duration.ofSeconds(10))
        .run(Scopes.select(ResourceResolver.withDefaultPrefix(), List.of()));
  }

  public static BackupReport verify(Path file, EncryptionCodec codec, boolean allRevisions)
      throws Exception {
    try (EtcdSnapshot snapshot = EtcdSnapshot.open(file)) {
      return new BackupVerifier(codec, ResourceSelection.all())
          .verify(file.getFileName().toString(), snapshot, allRevisions);
    }
  }
}
