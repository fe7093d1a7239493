package io.etcdcrypt.proxy;

import io.grpc.Grpc;
import io.grpc.ServerCall;
import io.grpc.Status;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Client requests that are not a valid message of their method. They are answered as etcd (grpc-go)
 * answers them, {@code INTERNAL} with {@value #UNARY} or, on a client stream, {@value #STREAM}
 * before the reason, and cost the log one line per {@link #LOG_INTERVAL_NANOS} at most, however
 * many arrive: a client sending garbage in a loop must not flood the log (grpc-java's own handling
 * logged a 64-line stack trace for each).
 */
final class MalformedRequests {

  private static final Logger log = LoggerFactory.getLogger(MalformedRequests.class);

  static final String UNARY = "grpc: error unmarshalling request: ";

  static final String STREAM = "grpc: failed to unmarshal the received message: ";

  static final long LOG_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);

  private static final AtomicLong refused = new AtomicLong();
  private static final AtomicLong lastLogged =
      new AtomicLong(System.nanoTime() - LOG_INTERVAL_NANOS);

  private MalformedRequests() {}

  /**
   * The status to end {@code call} with, after a failure to parse its request; logs it,
   * rate-limited.
   */
  static Status refuse(ServerCall<?, ?> call, RuntimeException failure) {
    String why = reason(failure);
    long count = refused.incrementAndGet();
    long now = System.nanoTime();
    long last = lastLogged.get();
    if (now - last >= LOG_INTERVAL_NANOS && lastLogged.compareAndSet(last, now)) {
      refused.addAndGet(-count);
      log.warn(
          "refused {} malformed request(s) in the last {} s; the latest, from {} on {}: {}",
          count,
          TimeUnit.NANOSECONDS.toSeconds(LOG_INTERVAL_NANOS),
          call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR),
          call.getMethodDescriptor().getFullMethodName(),
          why);
    }
    boolean unary = call.getMethodDescriptor().getType().clientSendsOneMessage();
    return Status.INTERNAL.withDescription((unary ? UNARY : STREAM) + why);
  }

  /** protobuf's own one-line reason (grpc-java wraps it in "Invalid protobuf byte sequence"). */
  private static String reason(RuntimeException failure) {
    Throwable cause = failure.getCause() != null ? failure.getCause() : failure;
    String message = cause.getMessage() != null ? cause.getMessage() : cause.getClass().getName();
    int newline = message.indexOf('\n');
    return newline < 0 ? message : message.substring(0, newline);
  }
}
