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
 * A {@code KV/Range} response as the bytes of its wire encoding (a serialized {@code RangeResponse}), so the
 * proxy can open its values in place ({@link WireRangeOpener}) instead of parsing and rebuilding 500 KeyValues
 * per list page. The bytes are never modified once wrapped: a rewrite makes a new instance.
 *
 * <p>Nothing checks the bytes on arrival: they reach a client only through {@link
 * ValueWalker#open(RangeResponseBytes)}, which refuses what it cannot read.
 */
public final class RangeResponseBytes {

  /** Reads a message's bytes once; writes them to the transport in one call, framed without a copy. */
  public static final MethodDescriptor.Marshaller<RangeResponseBytes> MARSHALLER = new Marshaller();

  private final byte[] bytes;

  /** Wraps {@code bytes} without copying; the caller must not modify them afterwards. */
  public RangeResponseBytes(byte[] bytes) {
    this.bytes = bytes;
  }

  /** The wire bytes; not a copy, so callers must not modify them. */
  public byte[] bytes() {
    return bytes;
  }

  /** The size only: the bytes hold values. */
  @Override
  public String toString() {
    return "RangeResponseBytes[" + bytes.length + " bytes]";
  }

  private static final class Marshaller implements MethodDescriptor.Marshaller<RangeResponseBytes> {

    @Override
    public InputStream stream(RangeResponseBytes value) {
      return new BytesStream(value.bytes);
    }

    @Override
    public RangeResponseBytes parse(InputStream stream) {
      try {
        return new RangeResponseBytes(readAll(stream));
      } catch (IOException e) {
        throw Status.INTERNAL.withDescription("etcd-crypt-proxy: could not read a Range response from etcd")
            .withCause(e).asRuntimeException();
      }
    }

    private static byte[] readAll(InputStream stream) throws IOException {
      if (stream instanceof KnownLength) {
        // grpc-java's inbound message: available() is its exact remaining size, so one array, one copy.
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

  /** What grpc-java frames without buffering: it asks the length first, then drains the array in one write. */
  private static final class BytesStream extends ByteArrayInputStream implements KnownLength, Drainable {
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
