package io.etcdcrypt.testing;

import io.etcdcrypt.proxy.TlsFiles;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * A real kube-apiserver (built by {@code testenv/build.sh}) on a free loopback port, with a test
 * PKI: a serving certificate, client certificates from the PKI's CA ({@code O=system:masters} for
 * the admin) and a service-account key. Its storage flags ({@link Storage}) change with {@link
 * #restart(Storage)}, which keeps the port, so a client made once follows it through every restart,
 * as users' kubeconfigs do.
 */
public final class KubeApiServer implements AutoCloseable {

  /** How kube-apiserver reaches its storage: etcd or the proxy, and whether it encrypts itself. */
  public record Storage(
      String etcdUrl, TlsFiles etcdTls, Path encryptionConfig, List<String> extraArgs) {

    /** Through the proxy (or straight to etcd) with no encryption of its own. */
    public static Storage plain(String etcdUrl, TlsFiles etcdTls) {
      return new Storage(etcdUrl, etcdTls, null, List.of());
    }

    /** Straight to etcd with kube-apiserver's own {@code --encryption-provider-config}. */
    public static Storage nativeEncryption(
        String etcdUrl, TlsFiles etcdTls, Path encryptionConfig) {
      return new Storage(etcdUrl, etcdTls, encryptionConfig, List.of());
    }

    public Storage withArgs(String... args) {
      List<String> all = new ArrayList<>(extraArgs);
      all.addAll(List.of(args));
      return new Storage(etcdUrl, etcdTls, encryptionConfig, all);
    }
  }

  /**
   * Error lines of kube-apiserver's log that concern storage (klog's {@code E} level from the etcd
   * client, the storage layer, the watch cache and reflectors), as opposed to the start-up noise of
   * a cluster with no nodes.
   */
  private static final Pattern STORAGE_ERROR =
      Pattern.compile(
          "^E\\d{4} .*(rpc error|etcdserver|etcd3|cacher|watcher\\.go|store\\.go|reflector"
              + "|storage|transformer|decrypt|encrypt)",
          Pattern.CASE_INSENSITIVE);

  /**
   * Not a storage error: the CRD finalizer of a CRD deleted while the watch cache of its objects
   * still starts retries until it is ready (it does so on etcd directly too). Why a watch cache
   * (re)initialises is logged on a line of its own, which {@link #STORAGE_ERROR} catches.
   */
  private static final Pattern WATCH_CACHE_STARTING =
      Pattern.compile("crd_finalizer\\.go.*storage is \\(re\\)initializing");

  private final Path dir;
  private final int port;
  private final TestPki.Leaf serving;
  private final TestPki.Leaf admin;
  private final TestPki.Leaf serviceAccounts;
  private final Path caCert;
  private final Path log;
  private Storage storage;
  private Process process;
  private KubernetesClient client;

  private KubeApiServer(Path dir, TestPki pki) {
    this.dir = dir;
    this.port = FreePorts.next();
    this.serving = pki.issue("kube-apiserver");
    this.admin = pki.issue("kube-admin", "system:masters");
    this.serviceAccounts = pki.issue("service-accounts");
    this.caCert = pki.caCert();
    this.log = dir.resolve("kube-apiserver.log");
  }

  /**
   * Starts kube-apiserver in {@code dir} (certificates and log) and waits until {@code /readyz}
   * passes.
   */
  public static KubeApiServer start(Path dir, TestPki pki, Storage storage) {
    RealComponentsGuard.starting("kube-apiserver");
    KubeApiServer k = new KubeApiServer(dir, pki);
    k.launch(storage);
    return k;
  }

  /**
   * Stops kube-apiserver, starts it again with {@code storage} on the same port, and waits until it
   * is ready.
   */
  public void restart(Storage storage) {
    long t0 = System.nanoTime();
    stop();
    long t1 = System.nanoTime();
    launch(storage);
    System.out.printf(
        "kube-apiserver restarted: stop %d ms, start %d ms%n",
        (t1 - t0) / 1_000_000, (System.nanoTime() - t1) / 1_000_000);
  }

  public Storage storage() {
    return storage;
  }

  private void launch(Storage storage) {
    this.storage = storage;
    List<String> cmd =
        new ArrayList<>(
            List.of(
                Testenv.require("kube-apiserver").toString(),
                "--etcd-servers=" + storage.etcdUrl(),
                "--secure-port=" + port,
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                // The loopback address is not a valid Service endpoint; nothing here needs the
                // kubernetes Service's.
                "--endpoint-reconciler-type=none",
                "--tls-cert-file=" + serving.cert(),
                "--tls-private-key-file=" + serving.key(),
                "--client-ca-file=" + caCert,
                "--service-account-issuer=https://kubernetes.default.svc",
                "--service-account-key-file=" + serviceAccounts.cert(),
                "--service-account-signing-key-file=" + serviceAccounts.key(),
                "--service-cluster-ip-range=10.96.0.0/24",
                "--authorization-mode=RBAC"));
    TlsFiles tls = storage.etcdTls();
    if (tls.enabled()) {
      cmd.add("--etcd-cafile=" + tls.trustedCaFile());
      cmd.add("--etcd-certfile=" + tls.certFile());
      cmd.add("--etcd-keyfile=" + tls.keyFile());
    }
    if (storage.encryptionConfig() != null) {
      cmd.add("--encryption-provider-config=" + storage.encryptionConfig());
    }
    cmd.addAll(storage.extraArgs());
    try {
      Files.writeString(
          log,
          "=== " + String.join(" ", cmd) + "\n",
          StandardCharsets.UTF_8,
          StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
      process =
          new ProcessBuilder(cmd)
              .directory(dir.toFile())
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
              .start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start kube-apiserver", e);
    }
    Await.until(
        "kube-apiserver /readyz on port " + port,
        Duration.ofSeconds(90),
        () -> {
          if (!process.isAlive()) {
            throw new IllegalStateException("kube-apiserver exited at start:\n" + tail(60));
          }
          return ready();
        });
  }

  /** Whether {@code /readyz} answers 200 (every check, etcd's included, passes). */
  public boolean ready() {
    try {
      return "ok".equals(client().raw("/readyz"));
    } catch (RuntimeException notYet) {
      return false;
    }
  }

  /** The admin's client, with fabric8's defaults otherwise (it never reads ~/.kube). */
  public synchronized KubernetesClient client() {
    if (client == null) {
      Config config =
          new ConfigBuilder(Config.empty())
              .withMasterUrl(url())
              .withCaCertFile(caCert.toString())
              .withClientCertFile(admin.cert().toString())
              .withClientKeyFile(admin.key().toString())
              .withClientKeyAlgo("EC")
              .withRequestTimeout(30_000)
              .withConnectionTimeout(5_000)
              .build();
      client = new KubernetesClientBuilder().withConfig(config).build();
    }
    return client;
  }

  public String url() {
    return "https://127.0.0.1:" + port;
  }

  /**
   * A kubeconfig for this server's admin, for kubectl. Written once; the port and certificates
   * never change.
   */
  public Path kubeconfig() {
    Path file = dir.resolve("kubeconfig");
    if (!Files.exists(file)) {
      String yaml =
          String.join(
              "\n",
              "apiVersion: v1",
              "kind: Config",
              "clusters: [{name: test, cluster: {server: \""
                  + url()
                  + "\", certificate-authority: \""
                  + caCert
                  + "\"}}]",
              "users: [{name: admin, user: {client-certificate: \""
                  + admin.cert()
                  + "\", client-key: \""
                  + admin.key()
                  + "\"}}]",
              "contexts: [{name: test, context: {cluster: test, user: admin}}]",
              "current-context: test",
              "");
      try {
        Files.writeString(file, yaml);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return file;
  }

  /**
   * The storage-related error lines kube-apiserver logged since {@code fromLine} ({@link
   * #logLines()}).
   */
  public List<String> storageErrorsSince(int fromLine) {
    List<String> lines = readLog();
    return lines.subList(Math.min(fromLine, lines.size()), lines.size()).stream()
        .filter(l -> STORAGE_ERROR.matcher(l).find() && !WATCH_CACHE_STARTING.matcher(l).find())
        .collect(Collectors.toList());
  }

  /** How many lines the log has now: a mark for {@link #storageErrorsSince(int)}. */
  public int logLines() {
    return readLog().size();
  }

  public String tail(int lines) {
    List<String> all = readLog();
    return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
  }

  private List<String> readLog() {
    try {
      return Files.exists(log) ? Files.readAllLines(log, StandardCharsets.UTF_8) : List.of();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Stops kube-apiserver (SIGTERM, then SIGKILL after 20 s); the client stays usable for the next
   * start.
   */
  public void stop() {
    Processes.stop(process, Duration.ofSeconds(20));
    process = null;
  }

  @Override
  public void close() {
    if (client != null) {
      client.close();
    }
    stop();
  }
}
