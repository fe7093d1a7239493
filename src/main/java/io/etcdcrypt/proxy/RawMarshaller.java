package io.etcdcrypt.proxy;

import io.grpc.Detachable;
import io.grpc.MethodDescriptor;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * Passes a message through as the bytes it arrived in, without parsing it. The inbound buffer is
 * detached from the transport (grpc-java would release it when {@code onMessage} returns) and
 * written out as is, so a raw method costs no copy and no protobuf work. Single use only: safe
 * because the upstream channel never retries.
 */
final class RawMarshaller implements MethodDescriptor.Marshaller<InputStream> {

  static final RawMarshaller INSTANCE = new RawMarshaller();

  private RawMarshaller() {}

  @Override
  public InputStream stream(InputStream value) {
    return value;
  }

  @Override
  public InputStream parse(InputStream stream) {
    if (stream instanceof Detachable detachable) {
      return detachable.detach();
    }
    try {
      return new ByteArrayInputStream(stream.readAllBytes());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
