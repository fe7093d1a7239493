package io.etcdcrypt.warmup;

import io.etcdcrypt.config.ConfigException;
import io.etcdcrypt.config.EncryptionConfigLoader;
import io.etcdcrypt.config.EncryptionConfiguration;
import io.etcdcrypt.config.LoadOptions;
import io.etcdcrypt.config.ProviderConfig;
import io.etcdcrypt.config.ResourceResolver;
import io.etcdcrypt.config.ResourceRule;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.crypto.KmsTransformerFactory;
import io.etcdcrypt.crypto.SecureRandoms;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.crypto.ValueCodec;
import io.etcdcrypt.observe.Metrics;
import io.etcdcrypt.proxy.Endpoint;
import io.etcdcrypt.proxy.ProxyOptions;
import io.etcdcrypt.proxy.ProxyServer;
import io.etcdcrypt.proxy.TlsFiles;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Runs the proxy's request path hot before it serves, so that a proxy restarted during a
 * control-plane rollout takes its full load compiled, not interpreted (on two cores the JIT needs
 * 10-15 s of real traffic otherwise, at a fraction of the warm throughput).
 *
 * <p>It starts a second, throw-away proxy (the same {@link ProxyServer}, Netty transport, gRPC,
 * value walkers and transformation metrics) in front of a {@link StandInEtcd} on loopback, both on
 * ports of their own, and sends it kube-apiserver's requests ({@link WarmUpLoad}) for the given
 * time. Its values are synthetic and its keys fresh random ones, for each kind of provider the real
 * configuration uses (KMS providers are warmed as aesgcm: their values are AES-GCM too); its
 * metrics go to a registry of its own. Nothing of it reaches the real etcd, the KMS plugins or the
 * real metrics, and everything is closed before the real listener opens.
 */
public final class WarmUp {

  /** The resources the warm-up writes: one per provider kind it warms, then an unencrypted one. */
  private static final List<String> RESOURCES =
      List.of("secrets", "configmaps", "serviceaccounts", "persistentvolumes");

  private WarmUp() {}

  /** What a warm-up did. */
  public record Result(
      Duration took, long requests, long watchEvents, List<String> providers, String firstError) {
    @Override
    public String toString() {
      return String.format(
          "%d requests and %d watch events through a stand-in etcd on loopback in %.1f s (%s)%s",
          requests,
          watchEvents,
          took.toMillis() / 1000.0,
          String.join(", ", providers),
          firstError == null ? "" : "; it stopped early: " + firstError);
    }
  }

  /** Every kind of provider the warm-up knows: for a warm-up that trains an AOT cache. */
  public static final List<String> ALL_PROVIDER_KINDS = List.of("aesgcm", "aescbc", "secretbox");

  /**
   * Warms the request path for {@code duration}, for the given kinds of provider ({@link
   * #providerKinds}).
   *
   * @throws IOException when a loopback port cannot be bound
   */
  public static Result run(List<String> providers, Duration duration)
      throws IOException, InterruptedException {
    try (StandInEtcd etcd = new StandInEtcd()) {
      return runAgainst(etcd, providers, duration);
    }
  }

  /** {@link #run} against {@code etcd}, which stays open (for a test to look at). */
  static Result runAgainst(StandInEtcd etcd, List<String> providers, Duration duration)
      throws IOException, InterruptedException {
    EncryptionConfiguration synthetic = syntheticConfig(providers);
    long started = System.nanoTime();
    try (Metrics metrics = new Metrics("etcd-crypt-proxy-warm-up", Clock.systemUTC())) {
      ValueCodec codec;
      try {
        codec =
            EncryptionCodec.create(
                synthetic,
                new ResourceResolver("/registry"),
                KmsTransformerFactory.UNAVAILABLE,
                metrics.transforms());
      } catch (TransformException e) {
        throw new IllegalStateException("the warm-up's own configuration is invalid", e);
      }
      ProxyOptions options =
          new ProxyOptions(
              new Endpoint("127.0.0.1", 0),
              List.of(new Endpoint("127.0.0.1", etcd.port())),
              TlsFiles.NONE,
              TlsFiles.NONE,
              ProxyOptions.DEFAULT_MAX_RECV_BYTES);
      ProxyServer proxy = ProxyServer.startUnannounced(options, codec, metrics.proxy());
      try (WarmUpLoad load =
          new WarmUpLoad(proxy.port(), RESOURCES.subList(0, providers.size() + 1))) {
        load.run(duration);
        return new Result(
            Duration.ofNanos(System.nanoTime() - started),
            load.requests(),
            load.watchEvents(),
            providers,
            load.firstError());
      } finally {
        proxy.shutdown(0, TimeUnit.SECONDS);
      }
    }
  }

  /**
   * The kinds of provider to warm for {@code config}: aesgcm always (KMS v1 and v2 seal with
   * AES-GCM too), then aescbc and secretbox when it uses them.
   */
  public static List<String> providerKinds(EncryptionConfiguration config) {
    Set<String> kinds = new LinkedHashSet<>();
    kinds.add("aesgcm");
    for (ResourceRule rule : config.rules()) {
      for (ProviderConfig p : rule.providers()) {
        if (p instanceof ProviderConfig.AesCbc) {
          kinds.add("aescbc");
        } else if (p instanceof ProviderConfig.Secretbox) {
          kinds.add("secretbox");
        }
      }
    }
    return new ArrayList<>(kinds);
  }

  /** One resource per provider kind, each with a fresh random key, identity after it. */
  private static EncryptionConfiguration syntheticConfig(List<String> kinds) {
    StringBuilder yaml =
        new StringBuilder(
            "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n");
    for (int i = 0; i < kinds.size(); i++) {
      byte[] key = new byte[32];
      SecureRandoms.SHARED.nextBytes(key);
      yaml.append("  - resources: [")
          .append(RESOURCES.get(i))
          .append("]\n    providers:\n      - ")
          .append(kinds.get(i))
          .append(":\n          keys:\n            - name: warm-up\n              secret: ")
          .append(Base64.getEncoder().encodeToString(key))
          .append("\n      - identity: {}\n");
    }
    try {
      return EncryptionConfigLoader.parse(yaml.toString(), "warm-up", new LoadOptions(false));
    } catch (ConfigException e) {
      throw new IllegalStateException("the warm-up's own configuration is invalid", e);
    }
  }
}
