package io.etcdcrypt.kms;

import com.google.protobuf.ByteString;
import io.etcdcrypt.kms.proto.v1beta1.DecryptRequest;
import io.etcdcrypt.kms.proto.v1beta1.EncryptRequest;
import io.etcdcrypt.kms.proto.v1beta1.KeyManagementServiceGrpc;
import io.etcdcrypt.kms.proto.v1beta1.VersionRequest;
import io.grpc.Status;
import java.time.Duration;

/**
 * The KMS v1 plugin API ({@code /v1beta1.KeyManagementService/*}) as a blocking client. Before the first
 * Encrypt/Decrypt it checks that the plugin speaks {@code v1beta1}; a success is remembered, a failure is retried
 * on the next call (as kube-apiserver does). Thread-safe.
 */
public final class KmsV1Client implements AutoCloseable {

  static final String API_VERSION = "v1beta1";

  private final PluginConnection connection;
  private volatile boolean versionChecked;

  public KmsV1Client(String provider, KmsEndpoint endpoint, Duration timeout, KmsObserver observer) {
    this.connection = new PluginConnection(provider, endpoint, timeout, observer);
  }

  public KmsEndpoint endpoint() {
    return connection.endpoint();
  }

  public byte[] encrypt(byte[] plain) throws KmsPluginException {
    checkVersion();
    EncryptRequest request =
        EncryptRequest.newBuilder().setVersion(API_VERSION).setPlain(ByteString.copyFrom(plain)).build();
    byte[] cipher =
        connection.call(KeyManagementServiceGrpc.getEncryptMethod(), request, "Encrypt").getCipher().toByteArray();
    if (cipher.length == 0 || cipher.length > 0xFFFF) {
      throw new KmsPluginException(
          "the KMS plugin at " + endpoint() + " answered Encrypt with a ciphertext of " + cipher.length
              + " bytes; it must be 1 to 65535 bytes",
          Status.Code.OK);
    }
    return cipher;
  }

  public byte[] decrypt(byte[] cipher) throws KmsPluginException {
    checkVersion();
    DecryptRequest request =
        DecryptRequest.newBuilder().setVersion(API_VERSION).setCipher(ByteString.copyFrom(cipher)).build();
    return connection.call(KeyManagementServiceGrpc.getDecryptMethod(), request, "Decrypt").getPlain().toByteArray();
  }

  private void checkVersion() throws KmsPluginException {
    if (versionChecked) {
      return;
    }
    VersionRequest request = VersionRequest.newBuilder().setVersion(API_VERSION).build();
    String version = connection.call(KeyManagementServiceGrpc.getVersionMethod(), request, "Version").getVersion();
    if (!API_VERSION.equals(version)) {
      throw new KmsPluginException(
          "KMS provider api version " + version + " is not supported, only " + API_VERSION
              + " is supported now (plugin at " + endpoint() + ")",
          Status.Code.OK);
    }
    versionChecked = true;
  }

  @Override
  public void close() {
    connection.close();
  }
}
