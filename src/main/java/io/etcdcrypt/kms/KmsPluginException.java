package io.etcdcrypt.kms;

import io.etcdcrypt.crypto.TransformException;
import io.grpc.Status;

/**
 * A call to a KMS plugin failed, or its answer broke the KMS contract. {@link #code()} is the gRPC
 * status code of the call ({@code OK} when the call succeeded but the answer was unusable), for
 * metrics labels.
 */
public class KmsPluginException extends TransformException {

  private final Status.Code code;

  public KmsPluginException(String message, Status.Code code) {
    super(message);
    this.code = code;
  }

  public KmsPluginException(String message, Status.Code code, Throwable cause) {
    super(message, cause);
    this.code = code;
  }

  public Status.Code code() {
    return code;
  }
}
