package io.etcdcrypt.proxy;

import io.grpc.ChannelCredentials;
import io.grpc.ServerCredentials;
import java.nio.file.Path;

/**
 * PEM files for one side of the proxy; every field may be null. {@link LiveTls} reads and checks
 * them.
 */
public record TlsFiles(Path certFile, Path keyFile, Path trustedCaFile) {

  public static final TlsFiles NONE = new TlsFiles(null, null, null);

  public boolean enabled() {
    return certFile != null || keyFile != null || trustedCaFile != null;
  }

  /**
   * Credentials for the client-facing listener, from the files as they are now ({@link
   * LiveTls#forListener} for ones that follow the files).
   *
   * @throws IllegalArgumentException for a mistake in the flags or files, naming the flag
   */
  public ServerCredentials serverCredentials() {
    return LiveTls.forListener(this, null).serverCredentials();
  }

  /**
   * Credentials toward etcd, from the files as they are now ({@link LiveTls#forEtcdClient} for ones
   * that follow the files).
   *
   * @throws IllegalArgumentException for a mistake in the flags or files, naming the flag
   */
  public ChannelCredentials channelCredentials() {
    return LiveTls.forEtcdClient(this).channelCredentials();
  }
}
