package io.etcdcrypt.proxy;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.Status;
import io.grpc.StatusException;
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
 * <p>The server and client halves call back on different threads; every operation on either call takes the
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
  private final Object lock = new Object();

  // Guarded by lock.
  private boolean downstreamWantsMore; // the client sent a message we did not yet ask the next one for
  private boolean upstreamWantsMore; // etcd sent a message we did not yet ask the next one for
  private boolean closed;

  private Relay(
      ServerCall<ReqT, RespT> serverCall,
      ClientCall<ReqT, RespT> clientCall,
      CallTransformer<ReqT, RespT> transformer) {
    this.serverCall = serverCall;
    this.clientCall = clientCall;
    this.transformer = transformer;
  }

  /** A server handler that relays every call of {@code method} to {@code upstream}. */
  static <ReqT, RespT> ServerCallHandler<ReqT, RespT> handler(
      Channel upstream,
      MethodDescriptor<ReqT, RespT> method,
      CallTransformer.Factory<ReqT, RespT> transformers) {
    return (serverCall, headers) -> {
      // Created inside the server call's Context, so the client's deadline and cancellation carry over.
      ClientCall<ReqT, RespT> clientCall = upstream.newCall(method, callOptions(method));
      Relay<ReqT, RespT> relay = new Relay<>(serverCall, clientCall, transformers.newCall());
      return relay.start(headers);
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
  private static final Object FAILED = new Object();

  /** Runs one transform with the method in the log context; a failure ends the call and returns FAILED. */
  private Object transform(String what, Step step) {
    MDC.put(MDC_METHOD, method());
    try {
      return step.apply();
    } catch (StatusException e) {
      fail(e.getStatus());
      return FAILED;
    } catch (RuntimeException e) {
      log.error("{} transform failed on {}", what, method(), e);
      fail(Status.INTERNAL.withDescription("etcd-crypt-proxy: " + what + " transform failed: " + e));
      return FAILED;
    } finally {
      MDC.remove(MDC_METHOD);
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
      Object transformed = transform("request", () -> transformer.toUpstream(message));
      if (transformed == FAILED) {
        return;
      }
      @SuppressWarnings("unchecked")
      ReqT out = (ReqT) transformed;
      synchronized (lock) {
        if (closed) {
          return;
        }
        clientCall.sendMessage(out);
        if (clientCall.isReady()) {
          serverCall.request(1);
        } else {
          downstreamWantsMore = true;
        }
      }
    }

    @Override
    public void onHalfClose() {
      synchronized (lock) {
        if (!closed) {
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
      Object transformed = transform("response", () -> transformer.toDownstream(message, Relay.this::sendUpstream));
      if (transformed == FAILED) {
        return;
      }
      @SuppressWarnings("unchecked")
      RespT out = (RespT) transformed;
      synchronized (lock) {
        if (closed) {
          return;
        }
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
        if (out == null || serverCall.isReady()) {
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
