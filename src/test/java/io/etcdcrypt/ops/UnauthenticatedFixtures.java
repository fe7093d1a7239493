package io.etcdcrypt.ops;

import com.google.protobuf.ByteString;
import io.etcdcrypt.crypto.EncryptionCodec;

/** For tests outside this package: values only AES-CBC opens, see {@link UnauthenticatedTest}. */
public final class UnauthenticatedFixtures {

  private UnauthenticatedFixtures() {}

  /** A stored value {@code reader} opens, with valid padding, to something that is no object. */
  public static ByteString garbageThatOpens(EncryptionCodec reader) {
    return UnauthenticatedTest.garbageThatOpens(reader);
  }
}
