package io.etcdcrypt.kms;

import io.etcdcrypt.config.KmsEndpoint;
import io.etcdcrypt.crypto.Stages;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ConnectivityState;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.spi.LoggingEventBuilder;

/**
 * One channel to a KMS plugin and the way every call on it is made: asynchronously, wait-for-ready
 * (a call made while the plugin is down waits for it, as kube-apiserver's client does) bounded by
 * the provider's {@code timeout}, and reported to the observer.
 *
 * <p>At most {@code maxPendingCalls} calls wait for answers at once; past that a call fails at once
 * with RESOURCE_EXHAUSTED instead of queueing behind a hung plugin (each waiting call also holds
 * the client's value). A call made for one client's request ({@link #callFor}) follows that
 * client's gRPC context: it is not made when the client already gave up, and is abandoned when the
 * client cancels or its deadline passes while it waits. Every other call ({@link #call}: cache
 * loads other requests may wait on too, health checks) is detached from the caller's context, so
 * that one client's cancellation cannot fail the others.
 *
 * <p>Calls are logged with the provider, method and, for KMS v2 Encrypt/Decrypt, the request's
 * {@code uid} (which the plugin sees too, for correlating both sides' logs): failed Encrypt/Decrypt
 * calls at WARN, everything else at DEBUG (Status failures are reported, once per change, by the
 * status probe).
 */
final class PluginConnection implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(PluginConnection.class);

  private final String provider;
  private final KmsEndpoint endpoint;
  private final Duration timeout;
  private final KmsObserver observer;
  private final ManagedChannel channel;
  private final int maxPendingCalls;
  private final AtomicInteger pending = new AtomicInteger();

  /** See {@link #passedItsDeadline}: more than a loopback or LAN round trip, less than a retry. */
  private static final long DEADLINE_SLACK_MILLIS = 250;

  PluginConnection(
      String provider,
      KmsEndpoint endpoint,
      Duration timeout,
      int maxPendingCalls,
      KmsObserver observer) {
    if (timeout.isZero() || timeout.isNegative()) {
      throw new IllegalArgumentException(
          "KMS provider " + provider + ": timeout must be positive, got " + timeout);
    }
    if (maxPendingCalls < 1) {
      throw new IllegalArgumentException(
          "KMS provider "
              + provider
              + ": at least one call must be allowed, got "
              + maxPendingCalls);
    }
    this.maxPendingCalls = maxPendingCalls;
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

  /**
   * Makes one unary call; {@code what} names it in errors (e.g. "Encrypt"). The stage completes
   * with the answer, or with a {@link KmsPluginException} that says what failed and what to check.
   */
  <Q, R> CompletableFuture<R> call(MethodDescriptor<Q, R> method, Q request, String what) {
    return call(method, request, what, null, null);
  }

  /**
   * {@link #call(MethodDescriptor, Object, String)} for a request carrying {@code uid} (KMS v2).
   */
  <Q, R> CompletableFuture<R> call(
      MethodDescriptor<Q, R> method, Q request, String what, String uid) {
    return call(method, request, what, uid, null);
  }

  /**
   * A call made for one client's request, whose gRPC context is {@code requester}: dropped (and
   * counted) when that client gives up before the plugin answers.
   */
  <Q, R> CompletableFuture<R> callFor(
      Context requester, MethodDescriptor<Q, R> method, Q request, String what) {
    return call(method, request, what, null, requester);
  }

  /** {@code requester} null: a shared call, detached from every client's context. */
  private <Q, R> CompletableFuture<R> call(
      MethodDescriptor<Q, R> method, Q request, String what, String uid, Context requester) {
    String fullMethod = "/" + method.getFullMethodName();
    if (requester != null && requester.isCancelled()) {
      return CompletableFuture.failedFuture(
          dropped(fullMethod, what, requester, "before it was made"));
    }
    if (pending.incrementAndGet() > maxPendingCalls) {
      pending.decrementAndGet();
      observer.pluginCallDropped(provider, fullMethod, KmsObserver.DropReason.QUEUE_FULL);
      return CompletableFuture.failedFuture(
          new KmsPluginException(
              // Short: clients see at most 299 characters, after the key and what failed.
              "KMS provider "
                  + provider
                  + ": --kms-max-pending-calls ("
                  + maxPendingCalls
                  + ") calls already wait on the plugin at "
                  + endpoint
                  + "; "
                  + what
                  + " refused, not queued (is the plugin hung? see /readyz?verbose)",
              Status.Code.RESOURCE_EXHAUSTED));
    }
    Context context = requester != null ? requester : Context.ROOT;
    Context previous = context.attach(); // the call takes its cancellation and deadline from it
    try {
      CompletableFuture<R> answer = start(method, request, what, uid, fullMethod, context);
      // The call stops counting before anyone hears its answer: a caller that makes its next call
      // when it hears one (a list asking a few DEKs at a time) must find the slot free again.
      CompletableFuture<R> result = new CompletableFuture<>();
      answer.whenComplete(
          (r, e) -> {
            pending.decrementAndGet();
            Stages.settle(result, r, e);
          });
      return result;
    } catch (RuntimeException e) {
      pending.decrementAndGet();
      throw e;
    } finally {
      context.detach(previous);
    }
  }

  /** The failure of a request's call whose client gave up {@code when}; counted. */
  private KmsPluginException dropped(String fullMethod, String what, Context caller, String when) {
    boolean deadline = passedItsDeadline(caller);
    observer.pluginCallDropped(
        provider,
        fullMethod,
        deadline
            ? KmsObserver.DropReason.CLIENT_DEADLINE
            : KmsObserver.DropReason.CLIENT_CANCELLED);
    return new KmsPluginException(
        "KMS provider "
            + provider
            + ": "
            + what
            + " dropped "
            + when
            + ": the client's call "
            + (deadline ? "passed its deadline" : "was cancelled"),
        deadline ? Status.Code.DEADLINE_EXCEEDED : Status.Code.CANCELLED);
  }

  /**
   * Whether a client's call ended for its deadline. A gRPC client whose deadline passes cancels the
   * stream itself, so the server usually sees a cancellation a moment before its own copy of the
   * deadline (sent as a timeout, started on arrival) expires: a cancellation that close counts as
   * the deadline.
   */
  private static boolean passedItsDeadline(Context caller) {
    Deadline deadline = caller.getDeadline();
    return caller.cancellationCause() instanceof TimeoutException
        || (deadline != null
            && deadline.timeRemaining(TimeUnit.MILLISECONDS) <= DEADLINE_SLACK_MILLIS);
  }

  private <Q, R> CompletableFuture<R> start(
      MethodDescriptor<Q, R> method,
      Q request,
      String what,
      String uid,
      String fullMethod,
      Context context) {
    // After the plugin was down, gRPC's reconnect back-off can grow to minutes; a caller that is
    // about to wait
    // for the plugin anyway wants the next attempt now, not at the end of the back-off.
    if (channel.getState(false) == ConnectivityState.TRANSIENT_FAILURE) {
      channel.resetConnectBackoff();
    }
    long start = System.nanoTime();
    CompletableFuture<R> result = new CompletableFuture<>();
    ClientCall<Q, R> call =
        channel.newCall(
            method,
            CallOptions.DEFAULT
                .withWaitForReady()
                .withDeadlineAfter(timeout.toNanos(), TimeUnit.NANOSECONDS));
    ClientCalls.asyncUnaryCall(
        call,
        request,
        new StreamObserver<R>() {
          private R response;

          @Override
          public void onNext(R value) {
            response = value;
          }

          @Override
          public void onError(Throwable t) {
            if (context.isCancelled()) {
              // The client gave up while this call waited: nobody is left to log it for.
              result.completeExceptionally(dropped(fullMethod, what, context, "while it waited"));
              return;
            }
            Status status = Status.fromThrowable(t);
            long nanos = System.nanoTime() - start;
            observer.pluginCall(provider, fullMethod, status.getCode(), nanos);
            String message = describeFailure(what, status);
            boolean dataPath = uid != null;
            logCall(
                    dataPath ? log.atWarn() : log.atDebug(),
                    fullMethod,
                    uid,
                    status.getCode(),
                    nanos)
                .log(message);
            result.completeExceptionally(new KmsPluginException(message, status.getCode(), t));
          }

          @Override
          public void onCompleted() {
            long nanos = System.nanoTime() - start;
            observer.pluginCall(provider, fullMethod, Status.Code.OK, nanos);
            if (log.isDebugEnabled()) {
              logCall(log.atDebug(), fullMethod, uid, Status.Code.OK, nanos)
                  .log("KMS plugin call succeeded");
            }
            result.complete(response);
          }
        });
    return result;
  }

  private LoggingEventBuilder logCall(
      LoggingEventBuilder event, String fullMethod, String uid, Status.Code code, long nanos) {
    event = event.addKeyValue("provider", provider).addKeyValue("kms_method", fullMethod);
    if (uid != null) {
      event = event.addKeyValue("kms_uid", uid);
    }
    return event.addKeyValue("grpc_code", code).addKeyValue("duration_ms", nanos / 1_000_000.0);
  }

  private String describeFailure(String what, Status status) {
    Status.Code code = status.getCode();
    if ((code == Status.Code.DEADLINE_EXCEEDED || code == Status.Code.UNAVAILABLE)
        && !endpoint.isAbstract()
        && !Files.exists(Path.of(endpoint.socketPath()))) {
      // The cause first, without gRPC's connection dump (which carries a stack trace).
      return "no KMS plugin socket at "
          + endpoint.socketPath()
          + " (is the plugin running?); "
          + what
          + " failed with "
          + code;
    }
    String detail =
        status.getDescription() == null ? "" : ": " + firstSentences(status.getDescription());
    String hint =
        switch (status.getCode()) {
          case DEADLINE_EXCEEDED ->
              " (no answer within the configured timeout of "
                  + timeout.toMillis()
                  + " ms; is the plugin running and listening on that socket?)";
          case UNAVAILABLE -> " (the plugin socket cannot be reached; is the plugin running?)";
          default -> "";
        };
    return "KMS provider "
        + provider
        + ": "
        + what
        + " call to the plugin at "
        + endpoint
        + " failed with "
        + status.getCode()
        + detail
        + hint;
  }

  /**
   * A status description without what gRPC appends for debugging: a wait-for-ready call's {@code
   * [closed=[], open=[[... Last Pick Failure=Status{... cause=...\n\tat ...}]]} and its name
   * resolution delay; at most 200 characters of one line.
   */
  static String firstSentences(String description) {
    String s = description;
    for (String cut : List.of("\n", " [closed=", " Name resolution delay")) {
      int at = s.indexOf(cut);
      if (at >= 0) {
        s = s.substring(0, at);
      }
    }
    return s.length() <= 200 ? s : s.substring(0, 197) + "...";
  }

  @Override
  public void close() {
    channel.shutdownNow();
  }
}
