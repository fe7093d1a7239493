package io.etcdcrypt.kmsplugin;

import com.google.protobuf.ByteString;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.kms.proto.v1beta1.DecryptRequest;
import io.etcdcrypt.kms.proto.v1beta1.DecryptResponse;
import io.etcdcrypt.kms.proto.v1beta1.EncryptRequest;
import io.etcdcrypt.kms.proto.v1beta1.EncryptResponse;
import io.etcdcrypt.kms.proto.v1beta1.KeyManagementServiceGrpc;
import io.etcdcrypt.kms.proto.v1beta1.VersionRequest;
import io.etcdcrypt.kms.proto.v1beta1.VersionResponse;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The KMS v1 (v1beta1) API of the bundled plugin, on the same socket as v2. Encrypt wraps with the
 * current KEK; Decrypt finds the KEK by the id embedded in the ciphertext, since v1 requests carry
 * no key id.
 */
final class KmsV1PluginService extends KeyManagementServiceGrpc.KeyManagementServiceImplBase {

  private static final Logger log = LoggerFactory.getLogger(KmsV1PluginService.class);
  static final String VERSION = "v1beta1";

  private final KeyWrapper wrapper;
  private final String runtimeVersion;

  KmsV1PluginService(KeyWrapper wrapper, String runtimeVersion) {
    this.wrapper = wrapper;
    this.runtimeVersion = runtimeVersion;
  }

  @Override
  public void version(VersionRequest request, StreamObserver<VersionResponse> out) {
    out.onNext(
        VersionResponse.newBuilder()
            .setVersion(VERSION)
            .setRuntimeName("etcd-crypt-proxy-kms-plugin")
            .setRuntimeVersion(runtimeVersion)
            .build());
    out.onCompleted();
  }

  @Override
  public void encrypt(EncryptRequest request, StreamObserver<EncryptResponse> out) {
    if (!versionOk(request.getVersion(), out)) {
      return;
    }
    byte[] plain = request.getPlain().toByteArray();
    if (plain.length == 0 || plain.length > KmsV2PluginService.MAX_PLAINTEXT) {
      out.onError(
          Status.INVALID_ARGUMENT
              .withDescription(
                  "plain must be 1 to "
                      + KmsV2PluginService.MAX_PLAINTEXT
                      + " bytes, got "
                      + plain.length)
              .asRuntimeException());
      return;
    }
    try {
      KeyWrapper.Wrapped w = wrapper.wrap(plain);
      out.onNext(
          EncryptResponse.newBuilder().setCipher(ByteString.copyFrom(w.ciphertext())).build());
      out.onCompleted();
    } catch (TransformException | RuntimeException e) {
      log.warn("v1 Encrypt failed: {}", e.getMessage());
      out.onError(Status.INTERNAL.withDescription(e.getMessage()).asRuntimeException());
    }
  }

  @Override
  public void decrypt(DecryptRequest request, StreamObserver<DecryptResponse> out) {
    if (!versionOk(request.getVersion(), out)) {
      return;
    }
    try {
      byte[] plain = wrapper.unwrap(request.getCipher().toByteArray(), null);
      out.onNext(DecryptResponse.newBuilder().setPlain(ByteString.copyFrom(plain)).build());
      out.onCompleted();
    } catch (KeyWrapper.UnknownKekException e) {
      log.warn("v1 Decrypt failed: {}", e.getMessage());
      out.onError(Status.FAILED_PRECONDITION.withDescription(e.getMessage()).asRuntimeException());
    } catch (TransformException | RuntimeException e) {
      log.warn("v1 Decrypt failed: {}", e.getMessage());
      out.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
    }
  }

  private static boolean versionOk(String version, StreamObserver<?> out) {
    if (VERSION.equals(version)) {
      return true;
    }
    out.onError(
        Status.INVALID_ARGUMENT
            .withDescription(
                "unsupported KMS API version '" + version + "', only " + VERSION + " is served")
            .asRuntimeException());
    return false;
  }
}
