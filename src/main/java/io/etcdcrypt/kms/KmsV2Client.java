package io.etcdcrypt.kms;

import com.google.protobuf.ByteString;
import io.etcdcrypt.config.KmsEndpoint;
import io.etcdcrypt.crypto.SecureRandoms;
import io.etcdcrypt.kms.proto.v2.DecryptRequest;
import io.etcdcrypt.kms.proto.v2.EncryptRequest;
import io.etcdcrypt.kms.proto.v2.EncryptResponse;
import io.etcdcrypt.kms.proto.v2.KeyManagementServiceGrpc;
import io.etcdcrypt.kms.proto.v2.StatusRequest;
import io.etcdcrypt.kms.proto.v2.StatusResponse;
import io.grpc.Status;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * The KMS v2 plugin API ({@code /v2.KeyManagementService/*}): each call returns a stage that
 * completes with the plugin's answer or a {@link KmsPluginException}. Thread-safe.
 */
public final class KmsV2Client implements AutoCloseable {

  private final PluginConnection connection;

  public KmsV2Client(
      String provider, KmsEndpoint endpoint, Duration timeout, KmsObserver observer) {
    this(provider, endpoint, timeout, KmsProviderOptions.DEFAULT_MAX_PENDING_CALLS, observer);
  }

  /** At most {@code maxPendingCalls} calls wait on the plugin at once (see PluginConnection). */
  public KmsV2Client(
      String provider,
      KmsEndpoint endpoint,
      Duration timeout,
      int maxPendingCalls,
      KmsObserver observer) {
    this.connection = new PluginConnection(provider, endpoint, timeout, maxPendingCalls, observer);
  }

  public KmsEndpoint endpoint() {
    return connection.endpoint();
  }

  public CompletableFuture<StatusResponse> status() {
    return connection.call(
        KeyManagementServiceGrpc.getStatusMethod(), StatusRequest.getDefaultInstance(), "Status");
  }

  /**
   * Asks the plugin to encrypt a DEK or seed; a fresh uid correlates the request in the plugin's
   * logs.
   */
  public CompletableFuture<EncryptResponse> encrypt(byte[] plaintext) {
    String uid = SecureRandoms.uuid().toString();
    EncryptRequest request =
        EncryptRequest.newBuilder()
            .setPlaintext(ByteString.copyFrom(plaintext))
            .setUid(uid)
            .build();
    return connection.call(KeyManagementServiceGrpc.getEncryptMethod(), request, "Encrypt", uid);
  }

  /** Asks the plugin to decrypt a stored DEK/seed. */
  public CompletableFuture<byte[]> decrypt(
      ByteString ciphertext, String keyId, Map<String, ByteString> annotations) {
    String uid = SecureRandoms.uuid().toString();
    DecryptRequest request =
        DecryptRequest.newBuilder()
            .setCiphertext(ciphertext)
            .setUid(uid)
            .setKeyId(keyId)
            .putAllAnnotations(annotations)
            .build();
    return connection
        .call(KeyManagementServiceGrpc.getDecryptMethod(), request, "Decrypt", uid)
        .thenApply(
            response -> {
              byte[] plaintext = response.getPlaintext().toByteArray();
              if (plaintext.length == 0) {
                throw new CompletionException(
                    new KmsPluginException(
                        "the KMS plugin at "
                            + endpoint()
                            + " answered Decrypt with an empty plaintext",
                        Status.Code.OK));
              }
              return plaintext;
            });
  }

  @Override
  public void close() {
    connection.close();
  }
}
