package io.etcdcrypt.ops;

import io.etcdcrypt.config.EncryptionConfiguration;
import io.etcdcrypt.config.ResourceResolver;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.proxy.Endpoint;
import io.etcdcrypt.proxy.TlsFiles;
import io.etcdcrypt.proxy.Upstream;
import io.grpc.Channel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * What census and rewrap work with: a {@link CodecSession} and a channel straight to etcd (built
 * like the proxy's own), never to an etcd-crypt-proxy ({@link ProxyCheck}). Closing it closes the
 * channel and the KMS providers.
 */
public final class EtcdSession implements AutoCloseable {

  private static final Duration PROXY_CHECK_TIMEOUT = Duration.ofSeconds(10);

  private final CodecSession codecs;
  private final Upstream upstream;

  private EtcdSession(CodecSession codecs, Upstream upstream) {
    this.codecs = codecs;
    this.upstream = upstream;
  }

  /**
   * Opens a {@link CodecSession} for {@code configFile} (waiting at most {@code kmsWait} for its
   * KMS providers, reading only or also writing as {@code access} says), then connects to etcd.
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
      Duration kmsWait,
      CodecSession.Access access)
      throws OpsException, InterruptedException {
    CodecSession codecs = CodecSession.open(configFile, etcdPrefix, kmsWait, access);
    Upstream upstream = null;
    try {
      upstream = new Upstream(endpoints, tls, maxRecvBytes);
      ProxyCheck.refuseProxy(upstream.channel(), endpointList(endpoints), PROXY_CHECK_TIMEOUT);
      PrefixCheck.refuseEmpty(upstream.channel(), codecs.resolver().prefix(), PROXY_CHECK_TIMEOUT);
      return new EtcdSession(codecs, upstream);
    } catch (OpsException | RuntimeException e) {
      if (upstream != null) {
        upstream.close();
      }
      codecs.close();
      throw e;
    }
  }

  static String endpointList(List<Endpoint> endpoints) {
    return endpoints.stream()
        .map(Endpoint::toString)
        .collect(java.util.stream.Collectors.joining(","));
  }

  public EncryptionConfiguration config() {
    return codecs.config();
  }

  public ResourceResolver resolver() {
    return codecs.resolver();
  }

  public EncryptionCodec codec() {
    return codecs.codec();
  }

  public Channel channel() {
    return upstream.channel();
  }

  @Override
  public void close() {
    try {
      upstream.close();
    } finally {
      codecs.close();
    }
  }
}
