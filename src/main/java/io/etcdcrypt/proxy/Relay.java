package io.etcdcrypt.proxy;

import io.etcdcrypt.crypto.Stages;
import io.etcdcrypt.log.RateLimitedWarning;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Context;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.Status;
import io.grpc.StatusException;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Relays one client call to one etcd call, as two halves that mirror each other (the shape of
 * grpc-java's {@code GrpcProxy} example): {@link #requests} carries what the client sends to etcd,
 * {@link #responses} what etcd sends back. Each half takes one message from its source, transforms
 * it, hands it to its sink, and asks the source for the next one only once the sink is ready
 * ({@code isReady}, else on its {@code onReady}). So flow control is end to end (a slow client
 * slows its etcd stream through HTTP/2 windows instead of making the proxy buffer) and every stream
 * keeps its order.
 *
 * <p>A transform is complete at once unless a value waits on a KMS plugin. Then only its half
 * waits: it resumes on the call's event loop when the transform completes, and the end of its
 * source (the client's half-close, etcd's close) that arrives meanwhile is passed on after it. No
 * thread ever waits for a plugin.
 *
 * <p>A client message larger than the {@link RequestLimit} is refused as etcd refuses it, and so is
 * a request that outgrows the limit once its values are encrypted; nothing is sent to etcd then.
 * Every message is counted in {@link InFlightBytes} while the relay holds it, from its arrival
 * until its sink has taken it (is ready again); a large request that does not fit is refused. Calls
 * never wait for a member: when none is reachable they fail at once with UNAVAILABLE (see {@link
 * Members}).
 *
 * <p>Headers, trailers, status code and description, deadline and cancellation pass through
 * unchanged; the request headers (etcd's {@code token}, {@code hasleader}, ...) are forwarded as
 * received. A message dropped because the call ended meanwhile is released (a raw message holds a
 * buffer detached from the transport).
 *
 * <p>Both halves share one lock: neither {@code ServerCall} nor {@code ClientCall} may be used
 * concurrently, and the transport, the event loop and a completing plugin call may each call in.
 * While a message is transformed, the MDC key {@value #MDC_METHOD} holds the call's full method
 * name, so that what the value codec logs names the request.
 */
final class Relay<ReqT, RespT> {

  /** MDC key of the gRPC method being served, e.g. {@code etcdserverpb.KV/Range}. */
  static final String MDC_METHOD = "method";

  private static final Logger log = LoggerFactory.getLogger(Relay.class);

  /** Answers from etcd the proxy had no memory for: a line per 10 s at most. */
  private static final RateLimitedWarning OUT_OF_MEMORY =
      new RateLimitedWarning(log, Duration.ofSeconds(10));

  // The client's requests arrive as bytes and are parsed here ({@link DownstreamListener}).
  private final ServerCall<InputStream, RespT> serverCall;
  private final MethodDescriptor<ReqT, RespT> method;
  private final ClientCall<ReqT, RespT> clientCall;
  private final CallTransformer<ReqT, RespT> transformer;
  private final Executor loop;
  private final RequestLimit limit;
  private final InFlightBytes inFlight;
  private final Object lock = new Object();
  private boolean closed; // guarded by lock

  private final Half<ReqT> requests =
      new Half<>("request") {
        @Override
        CompletionStage<ReqT> transform(ReqT message) {
          return transformer.toUpstream(message);
        }

        @Override
        Status refuse(ReqT received, ReqT transformed) {
          return limit.refuseSealed(received, transformed);
        }

        @Override
        void deliver(ReqT message) {
          clientCall.sendMessage(message);
        }

        @Override
        boolean sinkReady() {
          return clientCall.isReady();
        }

        @Override
        void requestNext() {
          serverCall.request(1);
        }
      };

  private final Half<RespT> responses =
      new Half<>("response") {
        @Override
        boolean heldUntilCallEnds() {
          // grpc-java writes a unary answer out only when the call closes, whatever isReady says.
          return method.getType().serverSendsOneMessage();
        }

        @Override
        CompletionStage<RespT> transform(RespT message) {
          return transformer.toDownstream(message, Relay.this::sendUpstream);
        }

        @Override
        void deliver(RespT message) {
          serverCall.sendMessage(message);
        }

        @Override
        boolean sinkReady() {
          return serverCall.isReady();
        }

        @Override
        void requestNext() {
          clientCall.request(1);
        }
      };

  private Relay(
      ServerCall<InputStream, RespT> serverCall,
      MethodDescriptor<ReqT, RespT> method,
      ClientCall<ReqT, RespT> clientCall,
      CallTransformer<ReqT, RespT> transformer,
      Executor loop,
      RequestLimit limit,
      InFlightBytes inFlight) {
    this.serverCall = serverCall;
    this.method = method;
    this.clientCall = clientCall;
    this.transformer = transformer;
    this.loop = loop;
    this.limit = limit;
    this.inFlight = inFlight;
  }

  /**
   * A server handler that relays every call of {@code method} to {@code upstream}. {@code loop}
   * names the event loop a call starts on, where it continues after a transform that waited. A call
   * that never ends by itself is registered with {@code endless}, so that shutdown can end it.
   * Client messages larger than {@code limit} are refused, and so are large ones that do not fit in
   * {@code inFlight}.
   */
  static <ReqT, RespT> ServerCallHandler<InputStream, RespT> handler(
      Channel upstream,
      Supplier<Executor> loop,
      EndlessCalls endless,
      RequestLimit limit,
      InFlightBytes inFlight,
      MethodDescriptor<ReqT, RespT> method,
      CallTransformer.Factory<ReqT, RespT> transformers) {
    boolean isEndless = EndlessCalls.isEndless(method.getFullMethodName());
    return (serverCall, headers) -> {
      // Created inside the server call's Context, so the client's deadline and cancellation carry
      // over. No
      // waitForReady: when no member is reachable the call fails at once, as a client's call to
      // etcd would.
      ClientCall<ReqT, RespT> clientCall = upstream.newCall(method, CallOptions.DEFAULT);
      SideCalls side = new SideCalls(upstream, headers, Context.current());
      Relay<ReqT, RespT> relay =
          new Relay<>(
              serverCall,
              method,
              clientCall,
              transformers.newCall(side, serverCall),
              loop.get(),
              limit,
              inFlight);
      // A request refused while it arrives ends after the transport's read, on the call's loop.
      InFlightTracer.onRefusal(refusal -> relay.loop.execute(() -> relay.fail(refusal)));
      ServerCall.Listener<InputStream> listener = relay.start(headers);
      if (isEndless) {
        endless.register(
            () ->
                relay.fail(
                    Status.UNAVAILABLE.withDescription(
                        "etcd-crypt-proxy is shutting down; reconnect to continue")));
      }
      return listener;
    };
  }

  /**
   * The server-side descriptor of {@code method}: requests arrive as bytes, which the relay parses
   * itself, so that one that is not a valid message is answered as etcd answers it (grpc-java's own
   * parse failure is an UNKNOWN "Application error processing RPC" with a stack trace in the log
   * for every such request).
   */
  static <ReqT, RespT> MethodDescriptor<InputStream, RespT> serverSide(
      MethodDescriptor<ReqT, RespT> method) {
    return method.toBuilder(RawMarshaller.INSTANCE, method.getResponseMarshaller()).build();
  }

  private ServerCall.Listener<InputStream> start(Metadata headers) {
    synchronized (lock) {
      clientCall.start(new UpstreamListener(), headers);
      clientCall.request(1);
      serverCall.request(1);
    }
    return new DownstreamListener();
  }

  private String method() {
    return serverCall.getMethodDescriptor().getFullMethodName();
  }

  /** Sends an extra request to etcd on this call (a transform cancelling one watch of a stream). */
  private void sendUpstream(ReqT message) {
    synchronized (lock) {
      if (!closed) {
        clientCall.sendMessage(message);
      }
    }
  }

  /**
   * The status the client gets for the upstream call's {@code status}. etcd's own pass as they are.
   * One that grpc-java made up in this process because the connection to etcd broke under the call
   * (UNKNOWN "channel closed" when etcd is killed mid-call: a status read from the wire never
   * carries a cause, a local one does) becomes UNAVAILABLE, as etcd's clients see a member that
   * went away and know to handle; UNKNOWN would tell them the server failed the request.
   */
  static Status asClientsSeeIt(Status status) {
    if (status.getCause() instanceof Error error) {
      // The proxy could not hold etcd's answer (grpc-java: CANCELLED "Failed to read message."):
      // out of heap or direct memory. Said as what it is, with what to do, not as a bare CANCELLED.
      return Status.RESOURCE_EXHAUSTED
          .withDescription(
              "etcd-crypt-proxy: could not hold etcd's answer ("
                  + error.getClass().getSimpleName()
                  + "): the proxy is short of memory; retry with backoff, and give the proxy a"
                  + " larger -Xmx / -XX:MaxDirectMemorySize or a lower --max-in-flight-bytes")
          .withCause(error);
    }
    if (status.getCode() != Status.Code.UNKNOWN || status.getCause() == null) {
      return status;
    }
    String why = String.valueOf(status.getDescription()).lines().findFirst().orElse("");
    return Status.UNAVAILABLE
        .withDescription(
            "etcd-crypt-proxy: the connection to etcd broke during the call ("
                + (why.length() > 150 ? why.substring(0, 147) + "..." : why)
                + "); a write may or may not have been applied")
        .withCause(status.getCause());
  }

  /** Ends the call toward the client with {@code status} and abandons the upstream call. */
  private void fail(Status status) {
    // The codec already logged transform failures with their key; this line ties them to the call's
    // outcome.
    log.atDebug()
        .addKeyValue(MDC_METHOD, method())
        .addKeyValue("grpc_code", status.getCode())
        .log("the proxy ended the call: {}", status.getDescription());
    synchronized (lock) {
      if (closed) {
        return;
      }
      markClosed();
      clientCall.cancel("etcd-crypt-proxy ended the call: " + status.getDescription(), null);
      try {
        serverCall.close(status, new Metadata());
      } catch (IllegalStateException alreadyClosed) {
        // grpc closed it when a send failed
      }
    }
  }

  /**
   * The call is over: what the request half counts in flight is etcd's now. (The response half's
   * last message is the client's transport's until the call completes or is cancelled.) Lock held.
   */
  private void markClosed() {
    closed = true;
    requests.releaseDelivered();
  }

  /** Releases a message nobody will send: a raw message's buffer, detached from the transport. */
  private static void release(Object message) {
    if (message instanceof InputStream in) {
      try {
        in.close();
      } catch (IOException ignored) {
        // a released buffer cannot fail to close in a way anyone could act on
      }
    }
  }

  /**
   * One direction of the call: a source that delivers messages when asked, a transform, and a sink.
   * At most one message is in the half at a time, which is what keeps order and flow control.
   */
  private abstract class Half<T> {
    private final String direction;
    // Guarded by lock.
    private boolean transforming; // a message's transform has not completed yet
    private boolean
        sinkWasBusy; // the last message went out while the sink was not ready: ask on its onReady
    private Runnable endAfterMessage; // the source ended while a message was being transformed
    private long delivered; // in-flight bytes of the last message, until its sink is ready again

    Half(String direction) {
      this.direction = direction;
    }

    /**
     * Whether a delivered message counts in flight until the call completes (not only until the
     * sink is ready).
     */
    boolean heldUntilCallEnds() {
      return false;
    }

    /** The message's transform; a refusal is a failed stage. */
    abstract CompletionStage<T> transform(T message);

    /** Null when the transformed message may go on, else the status that ends the call instead. */
    Status refuse(T original, T transformed) {
      return null;
    }

    /** Hands a transformed message to the sink. Lock held. */
    abstract void deliver(T message);

    /** Whether the sink takes another message without buffering. Lock held. */
    abstract boolean sinkReady();

    /** Asks the source for its next message. Lock held. */
    abstract void requestNext();

    /** Relays {@code message}, counted as {@code size} bytes in flight until its sink took it. */
    final void onMessage(T message, long size) {
      CompletableFuture<T> out = transformed(message);
      if (out.isDone()) {
        relay(message, out, size);
        return;
      }
      synchronized (lock) {
        transforming = true;
      }
      out.whenCompleteAsync((result, error) -> relay(message, out, size), loop);
    }

    private CompletableFuture<T> transformed(T message) {
      MDC.put(MDC_METHOD, method());
      try {
        return transform(message).toCompletableFuture();
      } catch (RuntimeException e) {
        return CompletableFuture.failedFuture(
            e); // a bug in a transform fails the call, not the transport
      } finally {
        MDC.remove(MDC_METHOD);
      }
    }

    /**
     * Passes on a message whose transform completed, then the source's end or the request for the
     * next one.
     */
    private void relay(T original, CompletableFuture<T> out, long size) {
      if (out.isCompletedExceptionally()) {
        inFlight.release(size);
        release(original);
        fail(refusal(out));
        return;
      }
      T message = out.join();
      Status refused = refuse(original, message);
      if (refused != null) {
        inFlight.release(size);
        release(message);
        fail(refused);
        return;
      }
      synchronized (lock) {
        transforming = false;
        if (closed) {
          inFlight.release(size);
          release(message);
          return;
        }
        if (message != null) {
          try {
            deliver(message);
          } catch (RuntimeException e) {
            // The transport could not take the message (e.g. out of direct memory); grpc may
            // already have
            // closed the call. End both sides once.
            log.warn("could not relay a {} on {}: {}", direction, method(), e.toString());
            inFlight.release(size);
            release(message);
            fail(
                Status.RESOURCE_EXHAUSTED.withDescription(
                    "etcd-crypt-proxy: could not relay the " + direction + ": " + e.getMessage()));
            return;
          }
        }
        if (message == null || (!heldUntilCallEnds() && sinkReady())) {
          inFlight.release(size);
        } else {
          delivered = size; // the sink's transport holds it until the sink is ready again
        }
        if (endAfterMessage != null) {
          Runnable end = endAfterMessage;
          endAfterMessage = null;
          end.run();
        } else if (message == null || sinkReady()) {
          requestNext();
        } else {
          sinkWasBusy = true;
        }
      }
    }

    /**
     * The status a failed transform ends the call with: its refusal's, or INTERNAL naming what went
     * wrong.
     */
    private Status refusal(CompletableFuture<T> failed) {
      Throwable error = Stages.cause(failed.handle((result, e) -> e).join());
      if (error instanceof StatusException e) {
        return e.getStatus();
      }
      log.error("{} transform failed on {}", direction, method(), error);
      return Status.INTERNAL.withDescription(
          "etcd-crypt-proxy: " + direction + " transform failed: " + error);
    }

    /** The source ended: passed on now, or after the message whose transform is still running. */
    final void onEnd(Runnable end) {
      synchronized (lock) {
        if (closed) {
          return;
        }
        if (transforming) {
          endAfterMessage = end;
        } else {
          end.run();
        }
      }
    }

    /** The last message's bytes are the sink's transport's no more. Lock held. */
    final void releaseDelivered() {
      inFlight.release(delivered);
      delivered = 0;
    }

    /** The sink can take more: ask the source for the message held back. */
    final void onSinkReady() {
      synchronized (lock) {
        if (!heldUntilCallEnds()) {
          releaseDelivered();
        }
        if (sinkWasBusy && !closed) {
          sinkWasBusy = false;
          requestNext();
        }
      }
    }
  }

  private final class DownstreamListener extends ServerCall.Listener<InputStream> {
    @Override
    public void onMessage(InputStream bytes) {
      // etcd checks the size before it parses.
      long size = Math.max(0, RequestLimit.sizeOf(bytes));
      Status refused = limit.refuseReceived(size);
      if (refused != null) {
        release(bytes);
        fail(refused);
        return;
      }
      Status overCap = inFlight.admit(size, size);
      if (overCap != null) {
        release(bytes);
        fail(overCap);
        return;
      }
      ReqT message;
      try {
        message = method.parseRequest(bytes);
      } catch (RuntimeException malformed) {
        inFlight.release(size);
        release(bytes);
        fail(MalformedRequests.refuse(serverCall, malformed));
        return;
      }
      if (message != bytes) {
        release(bytes); // parsed into a message of its own: the detached buffer is done with
      }
      requests.onMessage(message, size);
    }

    @Override
    public void onHalfClose() {
      requests.onEnd(clientCall::halfClose); // the client sends nothing more
    }

    @Override
    public void onComplete() {
      synchronized (lock) {
        responses.releaseDelivered(); // the client's transport has written the answer
      }
      transformer.onCallEnd();
    }

    @Override
    public void onCancel() {
      synchronized (lock) {
        responses.releaseDelivered();
        markClosed();
        clientCall.cancel("client cancelled", null);
      }
      transformer.onCallEnd();
    }

    @Override
    public void onReady() {
      responses.onSinkReady();
    }
  }

  private final class UpstreamListener extends ClientCall.Listener<RespT> {
    @Override
    public void onHeaders(Metadata headers) {
      synchronized (lock) {
        if (!closed) {
          serverCall.sendHeaders(headers);
        }
      }
    }

    @Override
    public void onMessage(RespT message) {
      long size = Math.max(0, RequestLimit.sizeOf(message));
      inFlight.hold(size); // never refused: a write's answer must reach its client
      responses.onMessage(message, size);
    }

    @Override
    public void onClose(Status status, Metadata trailers) {
      Status toClient = asClientsSeeIt(status);
      if (toClient.getCode() == Status.Code.RESOURCE_EXHAUSTED && toClient.getCause() != null) {
        OUT_OF_MEMORY.warn(
            "could not hold etcd's answer on {}: {}; the client got RESOURCE_EXHAUSTED: see"
                + " --max-in-flight-bytes and the JVM's memory options in the README (Memory)",
            method(),
            toClient.getCause().toString());
      }
      responses.onEnd(
          () -> {
            markClosed();
            serverCall.close(toClient, trailers);
          });
    }

    @Override
    public void onReady() {
      requests.onSinkReady();
    }
  }
}
