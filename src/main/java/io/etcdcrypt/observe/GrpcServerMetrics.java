package io.etcdcrypt.observe;

import io.etcdcrypt.observe.Instruments.Family;
import io.etcdcrypt.observe.Instruments.SettableGauge;
import io.etcdcrypt.values.Refusals;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Timer;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * etcd's gRPC server metrics (go-grpc-prometheus names and semantics) for every call clients make
 * to the proxy, plus the number of open Watch streams.
 *
 * <p>As go-grpc-prometheus counts: a call is started when it arrives and handled once, with its
 * status code, when the server closes it or the client cancels it ({@code Canceled}); every message
 * received from or sent to the client counts, for unary calls too (one request, one response on
 * success). The handling time runs from arrival to that end. A method the proxy cannot type (a
 * pass-through of a method added to etcd later) is labelled {@code bidi_stream}, the type that
 * constrains nothing.
 */
final class GrpcServerMetrics implements ServerInterceptor {

  /**
   * Distinct methods labelled before further new names share one {@code unknown} series (bounds
   * cardinality).
   */
  static final int MAX_METHODS = 256;

  private static final String WATCH_METHOD = "etcdserverpb.Watch/Watch";

  private final Family<Counter> started;
  private final Family<Counter> handled;
  private final Family<Timer> handling;
  private final Family<Counter> received;
  private final Family<Counter> sent;
  private final SettableGauge activeWatchStreams;
  private final Family<Counter> appliedWritesUnanswered;
  private final ConcurrentHashMap<String, MethodSeries> methods = new ConcurrentHashMap<>();

  GrpcServerMetrics(Instruments instruments) {
    String[] labels = {MetricNames.GRPC_TYPE, MetricNames.GRPC_SERVICE, MetricNames.GRPC_METHOD};
    started =
        instruments.counter(MetricNames.GRPC_SERVER_STARTED, "RPCs started on the server.", labels);
    handled =
        instruments.counter(
            MetricNames.GRPC_SERVER_HANDLED,
            "RPCs completed on the server, whatever their outcome.",
            MetricNames.GRPC_TYPE,
            MetricNames.GRPC_SERVICE,
            MetricNames.GRPC_METHOD,
            MetricNames.GRPC_CODE);
    handling =
        instruments.histogram(
            MetricNames.GRPC_SERVER_HANDLING,
            "Seconds from the arrival of an RPC to its completion on the server.",
            MetricNames.grpcHandlingBuckets(),
            labels);
    received =
        instruments.counter(
            MetricNames.GRPC_SERVER_MSG_RECEIVED,
            "Messages received from clients, per RPC method.",
            labels);
    sent =
        instruments.counter(
            MetricNames.GRPC_SERVER_MSG_SENT, "Messages sent to clients, per RPC method.", labels);
    activeWatchStreams =
        instruments
            .gauge(
                MetricNames.ACTIVE_WATCH_STREAMS,
                "Watch streams clients hold open through the proxy (each may carry many watches).")
            .labelValues();
    appliedWritesUnanswered =
        instruments.counter(
            MetricNames.APPLIED_WRITES_UNANSWERED,
            "Writes etcd applied whose answer could not be returned to the client (a previous value"
                + " that cannot be decrypted).",
            MetricNames.GRPC_METHOD);
  }

  /** The series of one method, looked up once per call. */
  private final class MethodSeries {
    final String[] labels;
    final boolean watch;
    final Counter started;
    final Counter received;
    final Counter sent;
    final Timer handling;

    MethodSeries(String type, String service, String method, boolean watch) {
      this.labels = new String[] {type, service, method};
      this.watch = watch;
      this.started = GrpcServerMetrics.this.started.labelValues(labels);
      this.received = GrpcServerMetrics.this.received.labelValues(labels);
      this.sent = GrpcServerMetrics.this.sent.labelValues(labels);
      this.handling = GrpcServerMetrics.this.handling.labelValues(labels);
    }

    void handled(Status.Code code, long startNanos) {
      handled
          .labelValues(labels[0], labels[1], labels[2], MetricNames.grpcCodeName(code))
          .increment();
      handling.record(System.nanoTime() - startNanos, TimeUnit.NANOSECONDS);
      if (watch) {
        activeWatchStreams.dec();
      }
    }
  }

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
      ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
    MethodSeries m = seriesOf(call.getMethodDescriptor());
    long start = System.nanoTime();
    m.started.increment();
    if (m.watch) {
      activeWatchStreams.inc();
    }
    AtomicBoolean ended = new AtomicBoolean();
    ServerCall<ReqT, RespT> observed =
        new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
          @Override
          public void sendMessage(RespT message) {
            m.sent.increment();
            super.sendMessage(message);
          }

          @Override
          public void close(Status status, Metadata trailers) {
            // Recorded before the client can see the end, so what a client observed is already
            // counted.
            if (ended.compareAndSet(false, true)) {
              m.handled(status.getCode(), start);
              if (status.getCode() == Status.Code.INTERNAL
                  && status.getDescription() != null
                  && status.getDescription().startsWith(Refusals.WRITE_APPLIED)) {
                appliedWritesUnanswered.labelValues(m.labels[2]).increment();
              }
            }
            super.close(status, trailers);
          }
        };
    ServerCall.Listener<ReqT> listener = next.startCall(observed, headers);
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
      @Override
      public void onMessage(ReqT message) {
        m.received.increment();
        super.onMessage(message);
      }

      @Override
      public void onCancel() {
        if (ended.compareAndSet(false, true)) {
          m.handled(Status.Code.CANCELLED, start);
        }
        super.onCancel();
      }
    };
  }

  private MethodSeries seriesOf(MethodDescriptor<?, ?> method) {
    String fullName = method.getFullMethodName();
    MethodSeries m = methods.get(fullName);
    if (m != null) {
      return m;
    }
    String service = method.getServiceName();
    String bare = method.getBareMethodName();
    if (service == null || bare == null || methods.size() >= MAX_METHODS) {
      service = MetricNames.UNKNOWN;
      bare = MetricNames.UNKNOWN;
      fullName = MetricNames.UNKNOWN + "/" + MetricNames.UNKNOWN + "/" + method.getType();
    }
    String type = typeOf(method.getType());
    String s = service;
    String b = bare;
    return methods.computeIfAbsent(
        fullName, k -> new MethodSeries(type, s, b, WATCH_METHOD.equals(k)));
  }

  private static String typeOf(MethodDescriptor.MethodType type) {
    return switch (type) {
      case UNARY -> "unary";
      case CLIENT_STREAMING -> "client_stream";
      case SERVER_STREAMING -> "server_stream";
      case BIDI_STREAMING, UNKNOWN -> "bidi_stream";
    };
  }
}
