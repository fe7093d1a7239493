package io.etcdcrypt.kmsplugin;

import com.google.protobuf.ByteString;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.kms.proto.v2.DecryptRequest;
import io.etcdcrypt.kms.proto.v2.DecryptResponse;
import io.etcdcrypt.kms.proto.v2.EncryptRequest;
import io.etcdcrypt.kms.proto.v2.EncryptResponse;
import io.etcdcrypt.kms.proto.v2.KeyManagementServiceGrpc;
import io.etcdcrypt.kms.proto.v2.StatusRequest;
import io.etcdcrypt.kms.proto.v2.StatusResponse;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The KMS v2 API of the bundled plugin. Status reports version {@code v2}, {@code healthz: ok} only
 * when a real wrap + unwrap with the current KEK succeeds, and key_id = the current KEK id. Encrypt
 * wraps with the current KEK and answers with its id; Decrypt unwraps with the KEK the ciphertext
 * (and the stored key_id) names. No annotations are returned.
 */
final class KmsV2PluginService extends KeyManagementServiceGrpc.KeyManagementServiceImplBase {

  private static final Logger log = LoggerFactory.getLogger(KmsV2PluginService.class);
  static final int MAX_PLAINTEXT = 1024;

  private final KeyWrapper wrapper;

  KmsV2PluginService(KeyWrapper wrapper) {
    this.wrapper = wrapper;
  }

  @Override
  public void status(StatusRequest request, StreamObserver<StatusResponse> out) {
    String keyId;
    String healthz;
    try {
      keyId = wrapper.currentKekId();
      String failure = wrapper.selfTest();
      healthz = failure == null ? "ok" : failure;
    } catch (RuntimeException e) {
      keyId = "";
      healthz = "no usable KEK: " + e.getMessage();
    }
    out.onNext(
        StatusResponse.newBuilder().setVersion("v2").setHealthz(healthz).setKeyId(keyId).build());
    out.onCompleted();
  }

  @Override
  public void encrypt(EncryptRequest request, StreamObserver<EncryptResponse> out) {
    byte[] plaintext = request.getPlaintext().toByteArray();
    if (plaintext.length == 0 || plaintext.length > MAX_PLAINTEXT) {
      out.onError(
          Status.INVALID_ARGUMENT
              .withDescription(
                  "plaintext must be 1 to " + MAX_PLAINTEXT + " bytes, got " + plaintext.length)
              .asRuntimeException());
      return;
    }
    try {
      KeyWrapper.Wrapped w = wrapper.wrap(plaintext);
      log.debug("v2 Encrypt uid={} kek={}", request.getUid(), w.kekId());
      out.onNext(
          EncryptResponse.newBuilder()
              .setCiphertext(ByteString.copyFrom(w.ciphertext()))
              .setKeyId(w.kekId())
              .build());
      out.onCompleted();
    } catch (TransformException | RuntimeException e) {
      log.warn("v2 Encrypt uid={} failed: {}", request.getUid(), e.getMessage());
      out.onError(Status.INTERNAL.withDescription(e.getMessage()).asRuntimeException());
    }
  }

  @Override
  public void decrypt(DecryptRequest request, StreamObserver<DecryptResponse> out) {
    try {
      byte[] plaintext = wrapper.unwrap(request.getCiphertext().toByteArray(), request.getKeyId());
      log.debug("v2 Decrypt uid={} kek={}", request.getUid(), request.getKeyId());
      out.onNext(DecryptResponse.newBuilder().setPlaintext(ByteString.copyFrom(plaintext)).build());
      out.onCompleted();
    } catch (KeyWrapper.UnknownKekException e) {
      log.warn("v2 Decrypt uid={} failed: {}", request.getUid(), e.getMessage());
      out.onError(Status.FAILED_PRECONDITION.withDescription(e.getMessage()).asRuntimeException());
    } catch (TransformException | RuntimeException e) {
      log.warn("v2 Decrypt uid={} failed: {}", request.getUid(), e.getMessage());
      out.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
    }
  }
}
