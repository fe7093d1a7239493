package io.etcdcrypt.bench.jmh;

import com.google.protobuf.ByteString;
import io.etcdcrypt.config.EncryptionConfigLoader;
import io.etcdcrypt.config.KmsEndpoint;
import io.etcdcrypt.config.ResourceResolver;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.crypto.Stages;
import io.etcdcrypt.crypto.ValueCodec;
import io.etcdcrypt.kms.KmsProviders;
import io.etcdcrypt.kmsplugin.KeyFileKekStore;
import io.etcdcrypt.kmsplugin.KmsPluginServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Each provider's encrypt and decrypt of one value, through the codec the proxy uses (the
 * EncryptionConfiguration is parsed, the provider chain built, the etcd key resolved to its
 * resource and used as associated data). KMS providers talk to the bundled plugin, started in this
 * JVM on a unix socket. Compare with {@link PrimitiveBench}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ProviderBench {

  @Param({"identity", "aescbc", "aesgcm", "secretbox", "kmsv2", "kmsv1"})
  public String provider;

  @Param({"1024", "10240", "102400"})
  public int size;

  private Path dir;
  private KmsPluginServer plugin;
  private KmsProviders kms;
  private EncryptionCodec codec;
  private final ByteString key = ByteString.copyFromUtf8("/registry/secrets/default/bench");
  private ByteString plaintext;
  private ByteString stored;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    dir = Files.createTempDirectory("provider-bench");
    Path sock = dir.resolve("kms.sock");
    if (provider.startsWith("kms")) {
      Path keks = dir.resolve("keks");
      KeyFileKekStore.generateKey(keks, "bench-kek", Clock.systemUTC());
      plugin =
          KmsPluginServer.start(
              KmsEndpoint.of("unix://" + sock),
              KeyFileKekStore.open(keks),
              Duration.ofMinutes(10),
              "bench");
    }
    Path config = dir.resolve("config.yaml");
    Files.writeString(config, io.etcdcrypt.bench.BenchConfigs.encryptionConfig(provider, sock));
    kms = new KmsProviders();
    codec =
        EncryptionCodec.create(
            EncryptionConfigLoader.load(config), new ResourceResolver("/registry"), kms);
    byte[] v = new byte[size];
    new SecureRandom().nextBytes(v);
    plaintext = ByteString.copyFrom(v);
    long deadline = System.currentTimeMillis() + 30_000;
    while (true) {
      try {
        stored = ValueCodec.valueOf(Stages.join(codec.toStorage(key, plaintext)), plaintext);
        break;
      } catch (Exception e) {
        if (System.currentTimeMillis() > deadline) {
          throw e;
        }
        Thread.sleep(100); // the KMS provider is usable once its first Status check answered
      }
    }
    if (!ValueCodec.valueOf(Stages.join(codec.fromStorage(key, stored)), stored)
        .equals(plaintext)) {
      throw new IllegalStateException(provider + " did not round-trip");
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    kms.close();
    if (plugin != null) {
      plugin.close();
    }
    try (var walk = Files.walk(dir)) {
      walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  /**
   * The codec's stage: complete when returned, except for a KMS v1 write, which waits for its
   * plugin.
   */
  @Benchmark
  public ByteString encrypt() throws Exception {
    return codec.toStorage(key, plaintext).toCompletableFuture().join();
  }

  @Benchmark
  public ByteString decrypt() throws Exception {
    return codec.fromStorage(key, stored).toCompletableFuture().join();
  }
}
