package io.etcdcrypt.values;

import io.grpc.Drainable;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * A message as the bytes of its wire encoding, for the responses the proxy opens in place ({@link
 * WireRangeOpener}) instead of parsing and rebuilding 500 KeyValues per list page: {@code KV/Range}
 * responses and {@code KV/RangeStream} chunks. {@code M} is the message the bytes encode ({@code
 * RangeResponse}, {@code RangeStreamResponse}); it is never parsed into one. The bytes are never
 * modified once wrapped: a rewrite makes a new instance.
 *
 * <p>Nothing checks the bytes on arrival: they reach a client only through {@link ValueWalker},
 * which refuses what it cannot read.
 */
public final class WireMessage<M> {

  private static final MethodDescriptor.Marshaller<WireMessage<?>> MARSHALLER = new Marshaller();

  private final byte[] bytes;

  /** Wraps {@code bytes} without copying; the caller must not modify them afterwards. */
  public WireMessage(byte[] bytes) {
    this.bytes = bytes;
  }

  /**
   * Reads a message's bytes once; writes them to the transport in one call, framed without a copy.
   */
  @SuppressWarnings("unchecked")
  public static <M> MethodDescriptor.Marshaller<WireMessage<M>> marshaller() {
    return (MethodDescriptor.Marshaller<WireMessage<M>>)
        (MethodDescriptor.Marshaller<?>) MARSHALLER;
  }

  /** The wire bytes; not a copy, so callers must not modify them. */
  public byte[] bytes() {
    return bytes;
  }

  /** The size only: the bytes hold values. */
  @Override
  public String toString() {
    return "WireMessage[" + bytes.length + " bytes]";
  }

  private static final class Marshaller implements MethodDescriptor.Marshaller<WireMessage<?>> {

    @Override
    public InputStream stream(WireMessage<?> value) {
      return new BytesStream(value.bytes);
    }

    @Override
    public WireMessage<?> parse(InputStream stream) {
      try {
        return new WireMessage<>(readAll(stream));
      } catch (IOException e) {
        throw Status.INTERNAL
            .withDescription("etcd-crypt-proxy: could not read a response from etcd")
            .withCause(e)
            .asRuntimeException();
      }
    }

    private static byte[] readAll(InputStream stream) throws IOException {
      if (stream instanceof KnownLength) {
        // grpc-java's inbound message: available() is its exact remaining size, so one array, one
        // copy.
        byte[] b = new byte[stream.available()];
        int n = stream.readNBytes(b, 0, b.length);
        if (n == b.length && stream.read() == -1) {
          return b;
        }
        throw new IOException("the message was not the length the transport announced");
      }
      return stream.readAllBytes();
    }
  }

  /**
   * What grpc-java frames without buffering: it asks the length first, then drains the array in one
   * write.
   */
  private static final class BytesStream extends ByteArrayInputStream
      implements KnownLength, Drainable {
    BytesStream(byte[] bytes) {
      super(bytes);
    }

    @Override
    public synchronized int drainTo(OutputStream target) throws IOException {
      int n = count - pos;
      target.write(buf, pos, n);
      pos = count;
      return n;
    }
  }
}
