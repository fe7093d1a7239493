package io.etcdcrypt.kms;

import io.grpc.CallOptions;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * One channel to a KMS plugin and the way every call on it is made: wait-for-ready (a call made while the plugin
 * is down waits for it, as kube-apiserver's client does) bounded by the provider's {@code timeout}, and reported
 * to the observer.
 */
final class PluginConnection implements AutoCloseable {

  private final String provider;
  private final KmsEndpoint endpoint;
  private final Duration timeout;
  private final KmsObserver observer;
  private final ManagedChannel channel;

  PluginConnection(String provider, KmsEndpoint endpoint, Duration timeout, KmsObserver observer) {
    if (timeout.isZero() || timeout.isNegative()) {
      throw new IllegalArgumentException("KMS provider " + provider + ": timeout must be positive, got " + timeout);
    }
    this.provider = provider;
    this.endpoint = endpoint;
    this.timeout = timeout;
    this.observer = observer;
    this.channel = UnixSocketTransport.channel(endpoint);
  }

  KmsEndpoint endpoint() {
    return endpoint;
  }

  Duration timeout() {
    return timeout;
  }

  /** Makes one unary call; {@code what} names it in errors (e.g. "Encrypt"). */
  <Q, R> R call(MethodDescriptor<Q, R> method, Q request, String what) throws KmsPluginException {
    // After the plugin was down, gRPC's reconnect back-off can grow to minutes; a caller that is about to wait
    // for the plugin anyway wants the next attempt now, not at the end of the back-off.
    if (channel.getState(false) == ConnectivityState.TRANSIENT_FAILURE) {
      channel.resetConnectBackoff();
    }
    long start = System.nanoTime();
    try {
      R response = ClientCalls.blockingUnaryCall(
          channel,
          method,
          CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(timeout.toNanos(), TimeUnit.NANOSECONDS),
          request);
      observer.pluginCall(provider, "/" + method.getFullMethodName(), Status.Code.OK, System.nanoTime() - start);
      return response;
    } catch (StatusRuntimeException e) {
      Status status = e.getStatus();
      observer.pluginCall(provider, "/" + method.getFullMethodName(), status.getCode(), System.nanoTime() - start);
      throw new KmsPluginException(describeFailure(what, status), status.getCode(), e);
    }
  }

  private String describeFailure(String what, Status status) {
    String detail = status.getDescription() == null ? "" : ": " + status.getDescription();
    String hint =
        switch (status.getCode()) {
          case DEADLINE_EXCEEDED -> " (no answer within the configured timeout of " + timeout.toMillis()
              + " ms; is the plugin running and listening on that socket?)";
          case UNAVAILABLE -> " (the plugin socket cannot be reached; is the plugin running?)";
          default -> "";
        };
    return "KMS provider " + provider + ": " + what + " call to the plugin at " + endpoint + " failed with "
        + status.getCode() + detail + hint;
  }

  @Override
  public void close() {
    channel.shutdownNow();
  }
}
