package io.etcdcrypt.ops;

import io.etcdcrypt.config.ConfigException;
import io.etcdcrypt.config.EncryptionConfigLoader;
import io.etcdcrypt.config.EncryptionConfiguration;
import io.etcdcrypt.config.ResourceResolver;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.kms.KmsProviders;
import io.etcdcrypt.proxy.Endpoint;
import io.etcdcrypt.proxy.TlsFiles;
import io.etcdcrypt.proxy.Upstream;
import io.grpc.Channel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What census and rewrap work with: the EncryptionConfiguration, its codec with every KMS provider
 * healthy, and a channel straight to etcd (built like the proxy's own). Closing it closes the
 * channel and the KMS providers.
 */
public final class EtcdSession implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(EtcdSession.class);

  private final EncryptionConfiguration config;
  private final ResourceResolver resolver;
  private final KmsProviders kms;
  private final EncryptionCodec codec;
  private final Upstream upstream;

  private EtcdSession(
      EncryptionConfiguration config,
      ResourceResolver resolver,
      KmsProviders kms,
      EncryptionCodec codec,
      Upstream upstream) {
    this.config = config;
    this.resolver = resolver;
    this.kms = kms;
    this.codec = codec;
    this.upstream = upstream;
  }

  /**
   * Loads {@code configFile}, builds its providers and waits for its KMS providers to be healthy
   * (at most {@code kmsWait}, and at least kube-apiserver's reload wait), then connects to etcd.
   *
   * @throws OpsException when the configuration is invalid, a provider cannot be built, or a KMS
   *     provider does not become healthy; nothing is left open then
   */
  public static EtcdSession open(
      Path configFile,
      String etcdPrefix,
      List<Endpoint> endpoints,
      TlsFiles tls,
      int maxRecvBytes,
      Duration kmsWait)
      throws OpsException, InterruptedException {
    EncryptionConfiguration config;
    try {
      config = EncryptionConfigLoader.load(configFile);
    } catch (ConfigException e) {
      throw new OpsException("invalid --encryption-provider-config: " + e.getMessage(), e);
    }
    config
        .warnings()
        .forEach(w -> log.warn("encryption configuration: {}: {}", w.path(), w.message()));
    ResourceResolver resolver = new ResourceResolver(etcdPrefix);
    KmsProviders kms = new KmsProviders();
    try {
      EncryptionCodec codec = EncryptionCodec.create(config, resolver, kms);
      List<String> unhealthy = KmsReadiness.await(kms, kmsWait);
      if (!unhealthy.isEmpty()) {
        throw new OpsException(
            "KMS providers did not become healthy within "
                + kmsWait.toSeconds()
                + " s: "
                + String.join("; ", unhealthy)
                + ". Check that the plugins run and their sockets are reachable.");
      }
      Upstream upstream = new Upstream(endpoints, tls, maxRecvBytes);
      return new EtcdSession(config, resolver, kms, codec, upstream);
    } catch (TransformException e) {
      kms.close();
      throw new OpsException(
          "cannot build the providers of " + configFile + ": " + e.getMessage(), e);
    } catch (OpsException | InterruptedException | RuntimeException e) {
      kms.close();
      throw e;
    }
  }

  public EncryptionConfiguration config() {
    return config;
  }

  public ResourceResolver resolver() {
    return resolver;
  }

  public EncryptionCodec codec() {
    return codec;
  }

  public Channel channel() {
    return upstream.channel();
  }

  @Override
  public void close() {
    try {
      upstream.close();
    } finally {
      kms.close();
    }
  }
}
