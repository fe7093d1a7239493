package io.etcdcrypt.proxy;

import io.etcdcrypt.log.Durations;
import io.etcdcrypt.log.StateChangeLog;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The etcd members behind the proxy, and the member each call goes to. Every member has a
 * connection of its own and is probed every {@link #PROBE_INTERVAL} with etcd's gRPC health check
 * sent with etcd's {@code hasleader: true} metadata: etcd answers it with {@code etcdserver: no
 * leader} when the member has no leader, with its learner refusal when it is a learner, and
 * NOT_SERVING while it defragments with {@code StopGRPCServiceOnDefrag}; the check needs no
 * credentials.
 *
 * <p>Each call goes, round robin, to one member of the first of these groups that is not empty:
 *
 * <ol>
 *   <li>members connected whose last probe said they serve with a leader;
 *   <li>members connected (when none is healthy, etcd answers as it answers any client:
 *       serializable reads, its own {@code no leader}, its own timeouts);
 *   <li>members whose connection is being set up (the call waits for it, as with gRPC's {@code
 *       round_robin});
 * </ol>
 *
 * <p>and when no member is left, the call fails at once with UNAVAILABLE naming what each member's
 * problem is, as a client talking to etcd sees its connections refused: the client's own retries,
 * or its other endpoints, take over. A member that is down is reconnected at every probe, so calls
 * flow again within a probe interval of its return (gRPC's own reconnect backoff grows to two
 * minutes).
 *
 * <p>gRPC's client-side health checking (A17) does not fit: it cannot send {@code hasleader}, and
 * it retries a failed health stream with the same growing backoff; {@code round_robin} has no
 * second choice for a cluster whose members all lost their leader.
 */
final class Members extends Channel implements AutoCloseable {

  /** How often every member is probed (and a member that is down reconnected). */
  static final Duration PROBE_INTERVAL = Duration.ofSeconds(1);

  /** How long a probe may take before the member counts as not answering. */
  static final Duration PROBE_TIMEOUT = Duration.ofSeconds(2);

  private static final Logger log = LoggerFactory.getLogger(Members.class);

  /** The log, where members lost and back are reported. */
  static final StateChangeLog.Sink LOG = StateChangeLog.Sink.of(log);

  private static final Metadata.Key<String> HAS_LEADER =
      Metadata.Key.of("hasleader", Metadata.ASCII_STRING_MARSHALLER);

  private final List<Member> members;
  private final ScheduledExecutorService prober;
  private final Executor refusals;
  private final AtomicInteger next = new AtomicInteger();
  private final StateChangeLog reachability; // of the cluster: whether any member takes calls

  /**
   * One connection per endpoint, made by {@code connect}. A refused call completes on {@code
   * refusals} unless its call options name an executor. Members lost and back, and etcd as a whole,
   * are logged to {@code changes}.
   */
  Members(
      List<Endpoint> endpoints,
      Function<Endpoint, ManagedChannel> connect,
      Executor refusals,
      StateChangeLog.Sink changes) {
    if (endpoints.isEmpty()) {
      throw new IllegalArgumentException("at least one etcd endpoint is needed");
    }
    List<Member> ms = new ArrayList<>();
    try {
      for (Endpoint e : endpoints) {
        ms.add(new Member(e, connect.apply(e), changes));
      }
    } catch (RuntimeException e) {
      ms.forEach(m -> m.channel.shutdownNow());
      throw e;
    }
    this.members = List.copyOf(ms);
    String all = String.join(",", endpoints.stream().map(Endpoint::toString).toList());
    this.reachability =
        new StateChangeLog(
            changes,
            why ->
                "no etcd member is reachable ("
                    + why
                    + "): every call fails with UNAVAILABLE until one is; check that etcd runs and"
                    + " listens at --endpoints "
                    + all
                    + "; the proxy retries every "
                    + PROBE_INTERVAL.toSeconds()
                    + " s",
            down ->
                "etcd is reachable again at "
                    + all
                    + " (it was not for "
                    + Durations.brief(down)
                    + "): calls flow again");
    this.prober =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "etcd-member-probe");
              t.setDaemon(true);
              return t;
            });
    this.refusals = refusals != null ? refusals : prober;
    prober.scheduleWithFixedDelay(
        this::probeAll, 0, PROBE_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
  }

  @Override
  public <ReqT, RespT> ClientCall<ReqT, RespT> newCall(
      MethodDescriptor<ReqT, RespT> method, CallOptions options) {
    Member m = choose();
    if (m == null) {
      return new RefusedCall<>(
          noMemberStatus(), options.getExecutor() != null ? options.getExecutor() : refusals);
    }
    return m.channel.newCall(method, options);
  }

  @Override
  public String authority() {
    return members.get(0).endpoint.toString();
  }

  /** Empty when some member serves with a leader; else what is wrong with each. */
  Optional<String> whyNoneServes() {
    for (Member m : members) {
      if (m.serves()) {
        return Optional.empty();
      }
    }
    return Optional.of(describeAll());
  }

  /** Whether each member is connected and serves with a leader, by endpoint, in given order. */
  Map<String, Boolean> serving() {
    Map<String, Boolean> serving = new LinkedHashMap<>();
    for (Member m : members) {
      serving.put(m.endpoint.toString(), m.serves());
    }
    return serving;
  }

  private Member choose() {
    int n = members.size();
    int start = Math.floorMod(next.getAndIncrement(), n);
    Member connected = null;
    Member connecting = null;
    for (int i = 0; i < n; i++) {
      Member m = members.get((start + i) % n);
      ConnectivityState state = m.channel.getState(false);
      if (state == ConnectivityState.READY) {
        if (m.verdict.serving()) {
          return m;
        }
        if (connected == null) {
          connected = m;
        }
      } else if (connecting == null && m.takesCalls()) {
        connecting = m;
      }
    }
    return connected != null ? connected : connecting;
  }

  private Status noMemberStatus() {
    return Status.UNAVAILABLE.withDescription(
        "etcd-crypt-proxy: no etcd member is reachable ("
            + describeAll()
            + "); the proxy retries every "
            + PROBE_INTERVAL.toSeconds()
            + " s");
  }

  private String describeAll() {
    List<String> parts = new ArrayList<>();
    for (Member m : members) {
      ConnectivityState state = m.channel.getState(false);
      String what = state == ConnectivityState.READY ? m.verdict.why() : m.lastFailure;
      parts.add(
          m.endpoint
              + ": "
              + (what == null ? state.toString().toLowerCase(java.util.Locale.ROOT) : what));
    }
    return String.join("; ", parts);
  }

  /** Each member's connection state and what its last probe said, for diagnostics. */
  String states() {
    List<String> parts = new ArrayList<>();
    for (Member m : members) {
      parts.add(
          m.endpoint
              + " ("
              + m.channel.getState(false)
              + (m.down ? ", down" : "")
              + "): "
              + (m.lastFailure != null ? m.lastFailure : m.verdict.why()));
    }
    return String.join("; ", parts);
  }

  private void probeAll() {
    // What the previous round found, a probe interval ago at most.
    if (members.stream().anyMatch(Member::takesCalls)) {
      reachability.up();
    } else {
      reachability.down(describeAll());
    }
    for (Member m : members) {
      try {
        m.probe();
      } catch (RuntimeException e) {
        log.warn("probing etcd member {} failed: {}", m.endpoint, e.toString());
      }
    }
  }

  @Override
  public void close() {
    prober.shutdownNow();
    for (Member m : members) {
      m.channel.shutdownNow();
    }
    for (Member m : members) {
      try {
        m.channel.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /** What the last probe of a member said. */
  private record Verdict(boolean serving, String why) {
    static final Verdict UNKNOWN = new Verdict(false, "not probed yet");
    static final Verdict SERVING = new Verdict(true, "serving");
  }

  private static final class Member {
    final Endpoint endpoint;
    final ManagedChannel channel;
    final AtomicBoolean probing = new AtomicBoolean();
    volatile Verdict verdict = Verdict.UNKNOWN;
    volatile String lastFailure; // why the last probe could not reach the member
    volatile boolean
        down; // found unreachable since it was last connected: calls do not wait for its
    // reconnection
    private final StateChangeLog serving;

    Member(Endpoint endpoint, ManagedChannel channel, StateChangeLog.Sink changes) {
      this.endpoint = endpoint;
      this.channel = channel;
      this.serving =
          new StateChangeLog(
              changes,
              why ->
                  "etcd member "
                      + endpoint
                      + " "
                      + why
                      + ": calls go to the members that serve while there are any; the proxy"
                      + " probes it every "
                      + PROBE_INTERVAL.toSeconds()
                      + " s",
              down ->
                  "etcd member "
                      + endpoint
                      + " is reachable again and serves with a leader (it did not for "
                      + Durations.brief(down)
                      + "): calls go to it again");
    }

    /** Whether {@link #choose} would give it calls: connected, or connecting and not known down. */
    boolean takesCalls() {
      ConnectivityState state = channel.getState(false);
      return state == ConnectivityState.READY
          || ((state == ConnectivityState.CONNECTING || state == ConnectivityState.IDLE) && !down);
    }

    boolean serves() {
      return channel.getState(false) == ConnectivityState.READY && verdict.serving();
    }

    /** Reconnects a member that is down at once, then asks it whether it serves with a leader. */
    void probe() {
      ConnectivityState state = channel.getState(false);
      if (state == ConnectivityState.SHUTDOWN) {
        return;
      }
      if (state == ConnectivityState.READY) {
        down = false;
      } else if (state == ConnectivityState.TRANSIENT_FAILURE) {
        down = true;
        channel.resetConnectBackoff();
      } else if (state == ConnectivityState.IDLE) {
        channel.getState(true);
      }
      if (!probing.compareAndSet(false, true)) {
        return; // the previous probe has not answered yet
      }
      ClientCall<HealthCheckRequest, HealthCheckResponse> call =
          channel.newCall(
              HealthGrpc.getCheckMethod(),
              CallOptions.DEFAULT.withDeadlineAfter(
                  PROBE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS));
      Metadata headers = new Metadata();
      headers.put(HAS_LEADER, "true");
      call.start(
          new ClientCall.Listener<>() {
            private HealthCheckResponse response;

            @Override
            public void onMessage(HealthCheckResponse message) {
              response = message;
            }

            @Override
            public void onClose(Status status, Metadata trailers) {
              try {
                concluded(status, response);
              } finally {
                probing.set(false);
              }
            }
          },
          headers);
      call.sendMessage(HealthCheckRequest.getDefaultInstance());
      call.halfClose();
      call.request(2);
    }

    private void concluded(Status status, HealthCheckResponse response) {
      if (status.isOk() && response != null) {
        lastFailure = null;
        down = false;
        verdict =
            response.getStatus() == HealthCheckResponse.ServingStatus.SERVING
                ? Verdict.SERVING
                : new Verdict(
                    false, "reports " + response.getStatus() + " (etcd does while it defragments)");
      } else if (status.getCode() == Status.Code.UNIMPLEMENTED) {
        lastFailure = null;
        verdict = new Verdict(true, "serving (it has no health service to say otherwise)");
      } else if (status.getCause() == null && status.getCode() != Status.Code.DEADLINE_EXCEEDED) {
        lastFailure = null;
        verdict =
            new Verdict(false, describe(status)); // etcd's own answer: no leader, a learner, ...
      } else {
        down = channel.getState(false) != ConnectivityState.READY;
        lastFailure =
            status.getCode() == Status.Code.DEADLINE_EXCEEDED
                ? "did not answer within " + PROBE_TIMEOUT.toSeconds() + " s"
                : describe(status);
        verdict = new Verdict(false, lastFailure);
      }
      if (verdict.serving()) {
        serving.up();
      } else if (lastFailure != null) {
        serving.down("is unreachable (" + lastFailure + ")");
      } else {
        serving.down("does not serve (" + verdict.why() + ")");
      }
    }

    private static String describe(Status status) {
      StringBuilder s = new StringBuilder(status.getCode().toString());
      if (status.getDescription() != null) {
        s.append(": ").append(status.getDescription());
      }
      if (status.getCause() != null && status.getCause().getMessage() != null) {
        s.append(" (").append(status.getCause().getMessage()).append(')');
      }
      return s.toString();
    }
  }

  /** A call no member can take: it ends at once with {@code status}, and drops what it is given. */
  private static final class RefusedCall<ReqT, RespT> extends ClientCall<ReqT, RespT> {
    private final Status status;
    private final Executor executor;

    RefusedCall(Status status, Executor executor) {
      this.status = status;
      this.executor = executor;
    }

    @Override
    public void start(Listener<RespT> listener, Metadata headers) {
      executor.execute(() -> listener.onClose(status, new Metadata()));
    }

    @Override
    public void request(int numMessages) {}

    @Override
    public void cancel(String message, Throwable cause) {}

    @Override
    public void halfClose() {}

    @Override
    public void sendMessage(ReqT message) {
      if (message instanceof InputStream in) {
        try {
          in.close(); // a raw message's buffer, detached from the client's transport
        } catch (IOException ignored) {
          // released either way
        }
      }
    }

    @Override
    public boolean isReady() {
      return false;
    }
  }
}
