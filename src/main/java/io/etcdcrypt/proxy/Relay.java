package io.etcdcrypt.proxy;

import io.etcdcrypt.crypto.WouldBlockException;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.Status;
import io.grpc.StatusException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Relays one client call to one upstream etcd call, message by message, in both directions.
 *
 * <p>Flow control is end to end: the relay asks a side for its next message only once the other side can take
 * one ({@code isReady}), so a slow client slows the etcd stream down through HTTP/2 windows instead of making
 * the proxy buffer. Headers, trailers, status code and description, deadline and cancellation pass through
 * unchanged; the request headers (etcd's {@code token}, {@code hasleader}, ...) are forwarded as received.
 *
 * <p>Messages are transformed on the event loop that delivered them. The rare transform that would wait on a KMS
 * plugin is handed, with its message, to the waiting pool and relayed from there; that side's half-close or close
 * waits for it, so nothing overtakes the message (see {@link Threading}).
 *
 * <p>The server and client halves may call back on different threads; every operation on either call takes the
 * relay's lock, because neither {@code ServerCall} nor {@code ClientCall} may be used concurrently.
 *
 * <p>While a message is transformed, the MDC key {@value #MDC_METHOD} holds the call's full method name, so that
 * what the value codec logs names the request it belongs to.
 */
final class Relay<ReqT, RespT> {

  /** MDC key of the gRPC method being served, e.g. {@code etcdserverpb.KV/Range}. */
  static final String MDC_METHOD = "method";

  private static final Logger log = LoggerFactory.getLogger(Relay.class);

  private final ServerCall<ReqT, RespT> serverCall;
  private final ClientCall<ReqT, RespT> clientCall;
  private final CallTransformer<ReqT, RespT> transformer;
  private final Executor waiting;
  private final Object lock = new Object();

  // Guarded by lock.
  private boolean downstreamWantsMore; // the client sent a message we did not yet ask the next one for
  private boolean upstreamWantsMore; // etcd sent a message we did not yet ask the next one for
  private boolean closed;
  private boolean requestOffLoop; // a request is being handled on the waiting pool
  private boolean halfCloseDeferred; // the client half-closed meanwhile: pass it on after that request
  private boolean responseOffLoop; // a response is being handled on the waiting pool
  private End closeDeferred; // etcd ended the call meanwhile: pass it on after that response

  /** How etcd ended the call. */
  private record End(Status status, Metadata trailers) {}

  private Relay(
      ServerCall<ReqT, RespT> serverCall,
      ClientCall<ReqT, RespT> clientCall,
      CallTransformer<ReqT, RespT> transformer,
      Executor waiting) {
    this.serverCall = serverCall;
    this.clientCall = clientCall;
    this.transformer = transformer;
    this.waiting = waiting;
  }

  /**
   * A server handler that relays every call of {@code method} to {@code upstream}; a message whose transform would
   * wait on an event loop is transformed and relayed on {@code waiting} instead. A call that never ends by itself
   * is registered with {@code endless}, so that shutdown can end it.
   */
  static <ReqT, RespT> ServerCallHandler<ReqT, RespT> handler(
      Channel upstream,
      Executor waiting,
      EndlessCalls endless,
      MethodDescriptor<ReqT, RespT> method,
      CallTransformer.Factory<ReqT, RespT> transformers) {
    boolean isEndless = EndlessCalls.isEndless(method.getFullMethodName());
    return (serverCall, headers) -> {
      // Created inside the server call's Context, so the client's deadline and cancellation carry over.
      ClientCall<ReqT, RespT> clientCall = upstream.newCall(method, callOptions(method));
      Relay<ReqT, RespT> relay = new Relay<>(serverCall, clientCall, transformers.newCall(), waiting);
      ServerCall.Listener<ReqT> listener = relay.start(headers);
      if (isEndless) {
        endless.register(() -> relay.fail(
            Status.UNAVAILABLE.withDescription("etcd-crypt-proxy is shutting down; reconnect to continue")));
      }
      return listener;
    };
  }

  private static CallOptions callOptions(MethodDescriptor<?, ?> method) {
    // Unary calls wait for a ready member (bounded by the client's deadline), as clientv3 does; a stream never
    // waits unbounded for a cluster that is down: it fails and the client re-creates it.
    return method.getType() == MethodDescriptor.MethodType.UNARY
        ? CallOptions.DEFAULT.withWaitForReady()
        : CallOptions.DEFAULT;
  }

  private ServerCall.Listener<ReqT> start(Metadata headers) {
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

  /** Ends the call toward the client with {@code status} and abandons the upstream call. */
  private void fail(Status status) {
    // The codec already logged transform failures with their key; this line ties them to the call's outcome.
    log.atDebug()
        .addKeyValue(MDC_METHOD, method())
        .addKeyValue("grpc_code", status.getCode())
        .log("the proxy ended the call: {}", status.getDescription());
    synchronized (lock) {
      if (closed) {
        return;
      }
      closed = true;
      clientCall.cancel("etcd-crypt-proxy ended the call: " + status.getDescription(), null);
      serverCall.close(status, new Metadata());
    }
  }

  private void sendUpstream(ReqT message) {
    synchronized (lock) {
      if (!closed) {
        clientCall.sendMessage(message);
      }
    }
  }

  /** A message transform that may refuse the message. */
  @FunctionalInterface
  private interface Step {
    Object apply() throws StatusException;
  }

  /** Marks a transform that ended the call; distinct from null, which means "deliver nothing". */
  private static final Object ENDED = new Object();

  /** Marks a transform that would have waited on this event loop (a KMS plugin call); nothing was relayed. */
  private static final Object WOULD_WAIT = new Object();

  /**
   * Runs one transform with the method in the log context. A failure ends the call and returns ENDED; a transform
   * that would wait on a KMS plugin on this event loop returns WOULD_WAIT before anything has waited.
   */
  private Object transform(String what, Step step) {
    MDC.put(MDC_METHOD, method());
    try {
      return step.apply();
    } catch (WouldBlockException e) {
      return WOULD_WAIT;
    } catch (StatusException e) {
      fail(e.getStatus());
      return ENDED;
    } catch (RuntimeException e) {
      log.error("{} transform failed on {}", what, method(), e);
      fail(Status.INTERNAL.withDescription("etcd-crypt-proxy: " + what + " transform failed: " + e));
      return ENDED;
    } finally {
      MDC.remove(MDC_METHOD);
    }
  }

  /**
   * Handles a message again on the waiting pool, where its transform may wait. Order holds: the relay asks a side
   * for its next message only once this one is sent, and the side's end (half-close, close) that arrives meanwhile
   * is deferred until then (see {@code requestOffLoop}, {@code responseOffLoop}). Values transformed before the one
   * that would wait are transformed again there (and counted again in the transformation metrics): once per
   * DEK-cache miss, or per KMS v1 write, which waits before anything else.
   */
  private void moveOffLoop(Runnable again) {
    try {
      waiting.execute(() -> {
        try {
          again.run();
        } catch (Throwable t) {
          // Off the event loop nobody else would end the call (grpc does on its own threads): an Error such as
          // OutOfMemoryError in a transform must fail the call, not leave the client waiting for ever.
          log.error("relaying a message of {} on the waiting pool failed", method(), t);
          fail(Status.INTERNAL.withDescription("etcd-crypt-proxy: the transform failed: " + t));
        }
      });
    } catch (RejectedExecutionException shuttingDown) {
      fail(Status.UNAVAILABLE.withDescription("etcd-crypt-proxy is shutting down; retry the request"));
    }
  }

  /** Closes the client's call unless grpc already did. Caller holds the lock. */
  private void closeQuietly(Status status) {
    try {
      serverCall.close(status, new Metadata());
    } catch (IllegalStateException alreadyClosed) {
      // grpc closed it when the send failed
    }
  }

  private final class DownstreamListener extends ServerCall.Listener<ReqT> {
    @Override
    public void onMessage(ReqT message) {
      relay(message, false);
    }

    private void relay(ReqT message, boolean offLoop) {
      Object transformed = transform("request", () -> transformer.toUpstream(message));
      if (transformed == WOULD_WAIT) {
        synchronized (lock) {
          requestOffLoop = true;
        }
        moveOffLoop(() -> relay(message, true));
        return;
      }
      synchronized (lock) {
        if (offLoop) {
          requestOffLoop = false;
        }
        if (transformed == ENDED || closed) {
          return;
        }
        @SuppressWarnings("unchecked")
        ReqT out = (ReqT) transformed;
        clientCall.sendMessage(out);
        if (halfCloseDeferred) {
          clientCall.halfClose(); // the client sends nothing more
        } else if (clientCall.isReady()) {
          serverCall.request(1);
        } else {
          downstreamWantsMore = true;
        }
      }
    }

    @Override
    public void onHalfClose() {
      synchronized (lock) {
        if (closed) {
          return;
        }
        if (requestOffLoop) {
          halfCloseDeferred = true;
        } else {
          clientCall.halfClose();
        }
      }
    }

    @Override
    public void onCancel() {
      synchronized (lock) {
        closed = true;
        clientCall.cancel("client cancelled", null);
      }
    }

    @Override
    public void onReady() {
      synchronized (lock) {
        if (upstreamWantsMore && !closed) {
          upstreamWantsMore = false;
          clientCall.request(1);
        }
      }
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
      relay(message, false);
    }

    private void relay(RespT message, boolean offLoop) {
      Object transformed = transform(
          "response", () -> transformer.toDownstream(message, Relay.this::sendUpstream));
      if (transformed == WOULD_WAIT) {
        synchronized (lock) {
          responseOffLoop = true;
        }
        moveOffLoop(() -> relay(message, true));
        return;
      }
      synchronized (lock) {
        if (offLoop) {
          responseOffLoop = false;
        }
        if (transformed == ENDED || closed) {
          return;
        }
        @SuppressWarnings("unchecked")
        RespT out = (RespT) transformed;
        if (out != null) {
          try {
            serverCall.sendMessage(out);
          } catch (RuntimeException e) {
            // The transport could not take the message (e.g. out of direct memory); grpc may already have
            // closed the call. End both sides once, without a second close.
            closed = true;
            log.warn("could not relay a response on {}: {}", method(), e.toString());
            clientCall.cancel("etcd-crypt-proxy could not relay a response", e);
            closeQuietly(Status.RESOURCE_EXHAUSTED.withDescription(
                "etcd-crypt-proxy: could not relay the response: " + e.getMessage()));
            return;
          }
        }
        if (closeDeferred != null) {
          closed = true;
          serverCall.close(closeDeferred.status(), closeDeferred.trailers());
        } else if (out == null || serverCall.isReady()) {
          clientCall.request(1);
        } else {
          upstreamWantsMore = true;
        }
      }
    }

    @Override
    public void onClose(Status status, Metadata trailers) {
      synchronized (lock) {
        if (closed) {
          return;
        }
        if (responseOffLoop) {
          closeDeferred = new End(status, trailers);
          return;
        }
        closed = true;
        serverCall.close(status, trailers);
      }
    }

    @Override
    public void onReady() {
      synchronized (lock) {
        if (downstreamWantsMore && !closed) {
          downstreamWantsMore = false;
          serverCall.request(1);
        }
      }
    }
  }
}
