package io.etcdcrypt.proxy;

import io.grpc.Context;
import io.grpc.Metadata;
import io.grpc.ServerStreamTracer;
import io.grpc.Status;
import java.util.function.Consumer;

/**
 * Counts a client's request in {@link InFlightBytes} while it arrives: grpc-java reads a message
 * whole (up to the transport's limit) before the {@link Relay} sees it, so without this a client
 * could make the proxy hold any number of large messages, each still arriving. The tracer sees
 * every chunk of a message as the transport reads it and, when a large one would take the count
 * past the cap, has its relay refuse the call; the relay counts the whole message from then on.
 */
final class InFlightTracer extends ServerStreamTracer.Factory {

  private static final Context.Key<Stream> STREAM = Context.key("etcd-crypt-proxy-in-flight");

  private final InFlightBytes inFlight;

  InFlightTracer(InFlightBytes inFlight) {
    this.inFlight = inFlight;
  }

  @Override
  public ServerStreamTracer newServerStreamTracer(String fullMethodName, Metadata headers) {
    return new Stream(inFlight);
  }

  /**
   * Has {@code refuse} end the current call (the one whose handler runs now) when its request
   * outgrows what is left; it is run once, after the transport's read.
   */
  static void onRefusal(Consumer<Status> refuse) {
    Stream stream = STREAM.get();
    if (stream != null) {
      stream.attach(refuse);
    }
  }

  /** One call's request bytes read but not yet handed to its relay. */
  private static final class Stream extends ServerStreamTracer {
    private final InFlightBytes inFlight;
    // Guarded by this: the transport reads on its thread, the stream may close on another.
    private long arriving;
    private boolean refused;
    private Consumer<Status> refuse;

    Stream(InFlightBytes inFlight) {
      this.inFlight = inFlight;
    }

    @Override
    public Context filterContext(Context context) {
      return context.withValue(STREAM, this);
    }

    synchronized void attach(Consumer<Status> refuse) {
      this.refuse = refuse;
    }

    @Override
    public void inboundWireSize(long bytes) {
      Consumer<Status> refuseNow;
      Status refusal;
      synchronized (this) {
        if (refused || refuse == null) {
          return; // being refused, or not a relayed call (its message is small and handled by grpc)
        }
        refusal = inFlight.admit(bytes, arriving + bytes);
        if (refusal == null) {
          arriving += bytes;
          return;
        }
        refused = true;
        inFlight.release(arriving);
        arriving = 0;
        refuseNow = refuse;
      }
      refuseNow.accept(refusal);
    }

    @Override
    public void inboundMessageRead(int seqNo, long wireSize, long uncompressedSize) {
      releaseArriving(); // the relay counts the whole message from here on
    }

    @Override
    public void streamClosed(Status status) {
      releaseArriving();
    }

    private synchronized void releaseArriving() {
      inFlight.release(arriving);
      arriving = 0;
    }
  }
}
