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
 * like the proxy's own). Closing it closes the channel and the KMS providers.
 */
public final class EtcdSession implements AutoCloseable {

  private final CodecSession codecs;
  private final Upstream upstream;

  private EtcdSession(CodecSession codecs, Upstream upstream) {
    this.codecs = codecs;
    this.upstream = upstream;
  }

  /**
   * Opens a {@link CodecSession} for {@code configFile} (waiting at most {@code kmsWait} for its
   * KMS providers), then connects to etcd.
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
    CodecSession codecs = CodecSession.open(configFile, etcdPrefix, kmsWait);
    try {
      return new EtcdSession(codecs, new Upstream(endpoints, tls, maxRecvBytes));
    } catch (RuntimeException e) {
      codecs.close();
      throw e;
    }
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
