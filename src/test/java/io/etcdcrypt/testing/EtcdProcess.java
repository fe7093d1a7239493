package io.etcdcrypt.testing;

import io.etcdcrypt.etcd.etcdserverpb.MaintenanceGrpc;
import io.etcdcrypt.etcd.etcdserverpb.StatusRequest;
import io.etcdcrypt.etcd.etcdserverpb.StatusResponse;
import io.etcdcrypt.proxy.TlsFiles;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real etcd server process on loopback, with its data in a temporary directory (on tmpfs when the
 * machine has one), of the release {@link EtcdRelease#current()} names unless one is given.
 */
public final class EtcdProcess implements AutoCloseable {

  private static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  private final EtcdRelease release;
  private final String name;
  private final int clientPort;
  private final int peerPort;
  private final Path dataDir;
  private final Path logFile;
  private final List<String> extraArgs;
  private final TlsFiles clientTls;
  private Process process;
  private List<String> launchArgs; // what the last launch passed to etcd, for a relaunch

  private EtcdProcess(
      EtcdRelease release,
      String name,
      int clientPort,
      int peerPort,
      Path dataDir,
      List<String> extraArgs,
      TlsFiles clientTls) {
    this.release = release;
    this.name = name;
    this.clientPort = clientPort;
    this.peerPort = peerPort;
    this.dataDir = dataDir;
    this.logFile = dataDir.resolveSibling(dataDir.getFileName() + ".log");
    this.extraArgs = extraArgs;
    this.clientTls = clientTls;
  }

  /** Starts a one-member cluster and waits until it serves requests. */
  public static EtcdProcess startSingle(String... extraArgs) {
    return startSingle(EtcdRelease.current(), List.of(extraArgs), TlsFiles.NONE);
  }

  /** {@link #startSingle(String...)} of the given release, whatever {@code etcd.release} says. */
  public static EtcdProcess startSingle(EtcdRelease release, String... extraArgs) {
    return startSingle(release, List.of(extraArgs), TlsFiles.NONE);
  }

  /**
   * Starts a one-member cluster that serves clients over TLS and requires client certificates
   * signed by {@code pki}'s CA, like a kubeadm etcd.
   */
  public static EtcdProcess startSingleTls(TestPki pki) {
    return startSingleTls(EtcdRelease.current(), pki);
  }

  /** {@link #startSingleTls(TestPki)} of the given release. */
  public static EtcdProcess startSingleTls(EtcdRelease release, TestPki pki) {
    TestPki.Leaf server = pki.issue("etcd-server");
    TestPki.Leaf probe = pki.issue("etcd-probe");
    return startSingle(
        release,
        List.of(
            "--cert-file",
            server.cert().toString(),
            "--key-file",
            server.key().toString(),
            "--client-cert-auth",
            "--trusted-ca-file",
            pki.caCert().toString()),
        new TlsFiles(probe.cert(), probe.key(), pki.caCert()));
  }

  /**
   * Starts a one-member cluster on two free ports; again on two others, up to three times, when
   * another process took one of them between {@link FreePorts#next()} and etcd's bind (other builds
   * run on the same machine).
   */
  private static EtcdProcess startSingle(
      EtcdRelease release, List<String> extraArgs, TlsFiles clientTls) {
    for (int attempt = 1; ; attempt++) {
      EtcdProcess p =
          create(release, "etcd0", FreePorts.next(), FreePorts.next(), extraArgs, clientTls);
      p.launch(p.name + "=" + p.peerUrl(), "etcd-test-" + p.clientPort);
      try {
        p.awaitReady(Duration.ofSeconds(30));
        return p;
      } catch (IllegalStateException e) {
        boolean portTaken = p.log().contains("address already in use");
        p.close();
        if (!portTaken || attempt == 3) {
          throw e;
        }
      }
    }
  }

  /** Starts an n-member cluster on loopback and waits until every member serves requests. */
  public static List<EtcdProcess> startCluster(int members) {
    List<EtcdProcess> ps = new ArrayList<>();
    for (int i = 0; i < members; i++) {
      ps.add(
          create(
              EtcdRelease.current(),
              "etcd" + i,
              FreePorts.next(),
              FreePorts.next(),
              List.of(),
              TlsFiles.NONE));
    }
    StringBuilder initial = new StringBuilder();
    for (EtcdProcess p : ps) {
      initial
          .append(initial.length() == 0 ? "" : ",")
          .append(p.name)
          .append('=')
          .append(p.peerUrl());
    }
    String token = "etcd-cluster-" + ps.get(0).clientPort;
    for (EtcdProcess p : ps) {
      p.launch(initial.toString(), token);
    }
    for (EtcdProcess p : ps) {
      p.awaitReady(Duration.ofSeconds(60));
    }
    return ps;
  }

  /**
   * A member that will join a running cluster once a MemberAdd (of a learner or a voter) names its
   * {@link #peerUrl()}: not started; {@link #join} starts it.
   */
  public static EtcdProcess toJoin(String name) {
    return create(
        EtcdRelease.current(), name, FreePorts.next(), FreePorts.next(), List.of(), TlsFiles.NONE);
  }

  /**
   * Starts this member, made by {@link #toJoin}, into the cluster whose members (this one included,
   * as MemberAdd answered) {@code initialCluster} lists as {@code name=peerURL,...}; does not wait
   * for it to catch up.
   */
  public void join(String initialCluster) {
    launch(initialCluster, "unused-when-joining", "existing");
  }

  private static EtcdProcess create(
      EtcdRelease release,
      String name,
      int clientPort,
      int peerPort,
      List<String> extraArgs,
      TlsFiles clientTls) {
    try {
      Path base = Files.isWritable(Paths.get("/dev/shm")) ? Paths.get("/dev/shm") : null;
      Path dir =
          base == null
              ? Files.createTempDirectory("etcd-")
              : Files.createTempDirectory(base, "etcd-");
      return new EtcdProcess(
          release, name, clientPort, peerPort, dir.resolve("data"), extraArgs, clientTls);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void launch(String initialCluster, String token) {
    launch(initialCluster, token, "new");
  }

  private void launch(String initialCluster, String token, String state) {
    RealComponentsGuard.starting("etcd");
    List<String> cmd =
        new ArrayList<>(
            List.of(
                release.binary().toString(),
                "--name",
                name,
                "--data-dir",
                dataDir.toString(),
                "--listen-client-urls",
                clientUrl(),
                "--advertise-client-urls",
                clientUrl(),
                "--listen-peer-urls",
                peerUrl(),
                "--initial-advertise-peer-urls",
                peerUrl(),
                "--initial-cluster",
                initialCluster,
                "--initial-cluster-token",
                token,
                "--initial-cluster-state",
                state,
                "--logger",
                "zap",
                "--log-level",
                "warn"));
    cmd.addAll(extraArgs);
    launchArgs = cmd;
    start(cmd);
  }

  private void start(List<String> cmd) {
    try {
      process =
          new ProcessBuilder(cmd)
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
              .start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + cmd.get(0), e);
    }
  }

  /**
   * Starts this member again after {@link #kill()}, on the same ports and data, as an operator
   * restarting a crashed member does; does not wait (a member of a cluster serves once a quorum
   * runs): {@link #awaitReady} does.
   */
  public void relaunch() {
    if (isAlive()) {
      throw new IllegalStateException("etcd " + name + " is still running");
    }
    start(launchArgs);
  }

  /**
   * Waits until this member serves requests with a leader; fails with its log after {@code
   * timeout}.
   */
  public void awaitReady(Duration timeout) {
    Instant deadline = Instant.now().plus(timeout);
    ManagedChannel ch = channel();
    try {
      while (true) {
        if (!process.isAlive()) {
          throw new IllegalStateException("etcd " + name + " exited at start:\n" + log());
        }
        StatusResponse s = statusOrNull(ch);
        if (s != null && s.getLeader() != 0) {
          if (!s.getVersion().startsWith(release.version() + ".")) {
            throw new IllegalStateException(
                release.binary()
                    + " is etcd "
                    + s.getVersion()
                    + ", not the "
                    + release
                    + " it should be");
          }
          return;
        }
        if (Instant.now().isAfter(deadline)) {
          throw new IllegalStateException(
              "etcd " + name + " not ready after " + timeout + ":\n" + log());
        }
        Thread.sleep(100); // the interval of this bounded readiness poll
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    } finally {
      ch.shutdownNow();
    }
  }

  /**
   * A gRPC channel straight to this member, with the client certificate a TLS member demands: for
   * reading and writing the stored (raw) bytes. The caller shuts it down.
   */
  public ManagedChannel channel() {
    return NettyChannelBuilder.forTarget(endpoint(), clientTls.channelCredentials())
        .overrideAuthority("localhost")
        .build();
  }

  private static StatusResponse statusOrNull(ManagedChannel ch) {
    try {
      return MaintenanceGrpc.newBlockingStub(ch)
          .withDeadlineAfter(1, TimeUnit.SECONDS)
          .status(StatusRequest.getDefaultInstance());
    } catch (RuntimeException notYet) {
      return null; // still starting
    }
  }

  /**
   * How many watchers this member has now, from its own {@code /metrics} (the gauge {@code
   * etcd_debugging_mvcc_watcher_total}): the evidence that a watch a client asked for exists, for a
   * client that prints nothing when it does (etcdctl). A plaintext member only.
   */
  public long watchers() {
    HttpRequest request =
        HttpRequest.newBuilder(URI.create(clientUrl() + "/metrics"))
            .timeout(Duration.ofSeconds(5))
            .build();
    try {
      String text = HTTP.send(request, HttpResponse.BodyHandlers.ofString()).body();
      return (long) PrometheusText.parse(text).value("etcd_debugging_mvcc_watcher_total");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read etcd " + name + "'s /metrics", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  public EtcdRelease release() {
    return release;
  }

  public String name() {
    return name;
  }

  /** {@code 127.0.0.1:port}, as etcdctl and the proxy's {@code --endpoints} take it. */
  public String endpoint() {
    return "127.0.0.1:" + clientPort;
  }

  public String clientUrl() {
    return (clientTls.enabled() ? "https" : "http") + "://127.0.0.1:" + clientPort;
  }

  public int clientPort() {
    return clientPort;
  }

  public String peerUrl() {
    return "http://127.0.0.1:" + peerPort;
  }

  public boolean isAlive() {
    return process != null && process.isAlive();
  }

  /** Kills the member at once (SIGKILL), as a crash would. */
  public void kill() {
    process.destroyForcibly();
    try {
      process.waitFor(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** The member's data directory; {@code member/snap/db} in it is its bbolt database. */
  public Path dataDir() {
    return dataDir;
  }

  /** Stops the member as an operator does (SIGTERM), keeping its data. */
  public void stop() {
    Processes.stop(process, Duration.ofSeconds(10));
  }

  public Path logFile() {
    return logFile;
  }

  public String log() {
    try {
      return Files.exists(logFile) ? Files.readString(logFile) : "(no log)";
    } catch (IOException e) {
      return "(log unreadable: " + e + ")";
    }
  }

  @Override
  public void close() {
    Processes.stop(process, Duration.ofSeconds(10));
    Processes.deleteTree(dataDir.getParent());
  }
}
