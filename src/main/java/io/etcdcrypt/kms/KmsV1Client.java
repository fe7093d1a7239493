package io.etcdcrypt.kms;

import com.google.protobuf.ByteString;
import io.etcdcrypt.config.KmsEndpoint;
import io.etcdcrypt.kms.proto.v1beta1.DecryptRequest;
import io.etcdcrypt.kms.proto.v1beta1.EncryptRequest;
import io.etcdcrypt.kms.proto.v1beta1.KeyManagementServiceGrpc;
import io.etcdcrypt.kms.proto.v1beta1.VersionRequest;
import io.grpc.Context;
import io.grpc.Status;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The KMS v1 plugin API ({@code /v1beta1.KeyManagementService/*}): each call returns a stage that
 * completes with the plugin's answer or a {@link KmsPluginException}. Before the first
 * Encrypt/Decrypt it checks that the plugin speaks {@code v1beta1}; a success is remembered, a
 * failure is retried on the next call (as kube-apiserver does). Thread-safe.
 */
public final class KmsV1Client implements AutoCloseable {

  static final String API_VERSION = "v1beta1";

  private final PluginConnection connection;
  private volatile boolean versionChecked;
  // The Version call in flight, shared by every request until it answers: with the plugin down,
  // 500 writes wait on one Version call, not 500.
  private final AtomicReference<CompletableFuture<Void>> versionCheck = new AtomicReference<>();

  public KmsV1Client(
      String provider, KmsEndpoint endpoint, Duration timeout, KmsObserver observer) {
    this(provider, endpoint, timeout, KmsProviderOptions.DEFAULT_MAX_PENDING_CALLS, observer);
  }

  /** At most {@code maxPendingCalls} calls wait on the plugin at once (see PluginConnection). */
  public KmsV1Client(
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

  /**
   * Encrypts a write's fresh DEK. The call belongs to the writer (its gRPC context, current now):
   * when the writer cancels or its deadline passes first, it is not sent or is abandoned.
   */
  public CompletableFuture<byte[]> encrypt(byte[] plain) {
    Context writer = Context.current(); // the version check may complete on another thread
    EncryptRequest request =
        EncryptRequest.newBuilder()
            .setVersion(API_VERSION)
            .setPlain(ByteString.copyFrom(plain))
            .build();
    return checkVersion()
        .thenCompose(
            ok ->
                connection.callFor(
                    writer, KeyManagementServiceGrpc.getEncryptMethod(), request, "Encrypt"))
        .thenApply(
            response -> {
              byte[] cipher = response.getCipher().toByteArray();
              if (cipher.length == 0 || cipher.length > 0xFFFF) {
                throw new CompletionException(
                    new KmsPluginException(
                        "the KMS plugin at "
                            + endpoint()
                            + " answered Encrypt with a ciphertext of "
                            + cipher.length
                            + " bytes; it must be 1 to 65535 bytes",
                        Status.Code.OK));
              }
              return cipher;
            });
  }

  public CompletableFuture<byte[]> decrypt(byte[] cipher) {
    DecryptRequest request =
        DecryptRequest.newBuilder()
            .setVersion(API_VERSION)
            .setCipher(ByteString.copyFrom(cipher))
            .build();
    return checkVersion()
        .thenCompose(
            ok -> connection.call(KeyManagementServiceGrpc.getDecryptMethod(), request, "Decrypt"))
        .thenApply(response -> response.getPlain().toByteArray());
  }

  private CompletableFuture<Void> checkVersion() {
    if (versionChecked) {
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<Void> mine = new CompletableFuture<>();
    CompletableFuture<Void> running = versionCheck.compareAndExchange(null, mine);
    if (running != null) {
      return running;
    }
    askVersion()
        .whenComplete(
            (ok, error) -> {
              versionCheck.set(null); // a failure is retried by the next request
              if (error != null) {
                mine.completeExceptionally(error);
              } else {
                mine.complete(null);
              }
            });
    return mine;
  }

  private CompletableFuture<Void> askVersion() {
    VersionRequest request = VersionRequest.newBuilder().setVersion(API_VERSION).build();
    return connection
        .call(KeyManagementServiceGrpc.getVersionMethod(), request, "Version")
        .thenApply(
            response -> {
              String version = response.getVersion();
              if (!API_VERSION.equals(version)) {
                throw new CompletionException(
                    new KmsPluginException(
                        "KMS provider api version "
                            + version
                            + " is not supported, only "
                            + API_VERSION
                            + " is supported now (plugin at "
                            + endpoint()
                            + ")",
                        Status.Code.OK));
              }
              versionChecked = true;
              return null;
            });
  }

  @Override
  public void close() {
    connection.close();
  }
}
