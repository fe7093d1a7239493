package io.etcdcrypt.bench;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLContext;

/**
 * The processes of the kube-apiserver benchmark, on free loopback ports, mTLS everywhere as a
 * deployment has it: one etcd 3.6 (data on tmpfs), the bundled KMS plugin, and per provider
 * (aesgcm, KMS v2) two kube-apiservers with the same EncryptionConfiguration file: one encrypting
 * itself straight to etcd ("native"), one with no encryption of its own whose {@code
 * --etcd-servers} is an etcd-crypt-proxy reading that file ("proxy"). Each kube-apiserver has its
 * own {@code --etcd-prefix} (the proxy the same one), so all four share the one etcd and can be
 * measured in interleaved slices.
 */
final class KubeCluster implements AutoCloseable {

  static final List<String> PROVIDERS = List.of("aesgcm", "kmsv2");

  /** One kube-apiserver (and its proxy, if it has one). */
  static final class Server {
    final String name;
    final String provider;
    final boolean viaProxy;
    final int port;
    final Path dir;
    final String prefix;
    Process apiserver;
    Process proxy;
    KubeApi api;

    /** How it reaches storage: {@code --etcd-servers}, and its own encryption if native. */
    final List<String> storage = new ArrayList<>();

    Server(String provider, boolean viaProxy, Path work) throws IOException {
      this.provider = provider;
      this.viaProxy = viaProxy;
      this.name = provider + (viaProxy ? "-proxy" : "-native");
      this.port = Procs.freePort();
      this.dir = Files.createDirectories(work.resolve(name));
      this.prefix = "/k-" + name;
    }

    long apiserverPid() {
      return apiserver.pid();
    }

    long proxyPid() {
      return proxy == null ? -1 : proxy.pid();
    }

    @Override
    public String toString() {
      return name;
    }
  }

  private final Path work;
  private final Path bin;
  private final Path jar;
  private final String proxyJavaOpts;
  private final Procs procs;
  private final List<Server> servers = new ArrayList<>();
  private KubePki pki;
  private KubePki.Leaf etcdServing;
  private KubePki.Leaf etcdClient;
  private KubePki.Leaf serving;
  private KubePki.Leaf serviceAccounts;
  private SSLContext adminTls;
  private int etcdPort;
  Process etcd;
  Process kmsPlugin;
  final List<String> commands = new ArrayList<>();

  KubeCluster(Path work, Path bin, Path jar, String proxyJavaOpts) throws IOException {
    this.work = work;
    this.bin = bin;
    this.jar = jar;
    this.proxyJavaOpts = proxyJavaOpts;
    this.procs = new Procs(work.resolve("logs"));
  }

  List<Server> servers() {
    return servers;
  }

  Path logs() {
    return work.resolve("logs");
  }

  void start() throws Exception {
    pki = new KubePki(work.resolve("pki"));
    etcdServing = pki.issue("etcd", null);
    etcdClient = pki.issue("etcd-client", null);
    serving = pki.issue("kube-apiserver", null);
    serviceAccounts = pki.issue("service-accounts", null);
    adminTls = pki.clientContext(pki.issue("admin", "system:masters"));
    KubePki.Leaf proxyServing = pki.issue("proxy", null);

    startEtcd();
    Path socket = work.resolve("kms.sock");
    kmsPlugin = KmsPlugin.start(procs, jar, work, socket);
    awaitFile(kmsPlugin, "kms-plugin", socket);

    for (String provider : PROVIDERS) {
      Path config = work.resolve(provider + ".yaml");
      Files.writeString(config, BenchConfigs.encryptionConfig(provider, socket));
      for (boolean viaProxy : new boolean[] {false, true}) {
        Server s = new Server(provider, viaProxy, work);
        servers.add(s);
        String etcdUrl = "https://127.0.0.1:" + etcdPort;
        if (viaProxy) {
          int proxyPort = Procs.freePort();
          int adminPort = Procs.freePort();
          List<String> cmd = new ArrayList<>(List.of("java"));
          cmd.addAll(List.of(proxyJavaOpts.trim().split("\\s+")));
          cmd.addAll(
              List.of(
                  "-jar",
                  jar.toString(),
                  "serve",
                  "--listen-addr",
                  "127.0.0.1:" + proxyPort,
                  "--endpoints",
                  etcdUrl,
                  "--cacert",
                  pki.caCert.toString(),
                  "--cert",
                  etcdClient.cert().toString(),
                  "--key",
                  etcdClient.key().toString(),
                  "--cert-file",
                  proxyServing.cert().toString(),
                  "--key-file",
                  proxyServing.key().toString(),
                  "--trusted-ca-file",
                  pki.caCert.toString(),
                  "--encryption-provider-config",
                  config.toString(),
                  "--etcd-prefix",
                  s.prefix,
                  "--metrics-addr",
                  "127.0.0.1:" + adminPort,
                  "--log-level",
                  "warn"));
          s.proxy = procs.start(s.name + "-etcd-crypt-proxy", cmd);
          commands.add(String.join(" ", cmd));
          awaitProxyReady(s.proxy, adminPort);
          s.storage.add("--etcd-servers=https://127.0.0.1:" + proxyPort);
        } else {
          s.storage.add("--etcd-servers=" + etcdUrl);
          s.storage.add("--encryption-provider-config=" + config);
        }
        s.api = new KubeApi(s.name, s.port, adminTls);
        launch(s, List.of());
      }
    }
    for (Server s : servers) {
      awaitReady(s);
    }
  }

  /**
   * Restarts every kube-apiserver with {@code extraArgs} added (same ports, storage and data); the
   * proxies, etcd and the plugin keep running.
   */
  void restartApiservers(List<String> extraArgs) throws Exception {
    for (Server s : servers) {
      stop(s.apiserver);
    }
    for (Server s : servers) {
      launch(s, extraArgs);
    }
    for (Server s : servers) {
      awaitReady(s);
    }
  }

  private void startEtcd() throws Exception {
    etcdPort = Procs.freePort();
    int peer = Procs.freePort();
    String client = "https://127.0.0.1:" + etcdPort;
    String peerUrl = "http://127.0.0.1:" + peer;
    List<String> cmd =
        Procs.etcdCommand(
            bin.resolve("etcd-3.6").toString(), work.resolve("etcd"), client, peerUrl);
    cmd.addAll(
        List.of(
            "--cert-file",
            etcdServing.cert().toString(),
            "--key-file",
            etcdServing.key().toString(),
            "--client-cert-auth",
            "--trusted-ca-file",
            pki.caCert.toString()));
    etcd = procs.start("etcd", cmd);
    commands.add(String.join(" ", cmd));
    Procs.awaitPort(etcd, "etcd", etcdPort, 30_000);
  }

  private void launch(Server s, List<String> extraArgs) throws IOException {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                bin.resolve("kube-apiserver").toString(),
                "--etcd-cafile=" + pki.caCert,
                "--etcd-certfile=" + etcdClient.cert(),
                "--etcd-keyfile=" + etcdClient.key(),
                "--etcd-prefix=" + s.prefix,
                "--secure-port=" + s.port,
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                // The loopback address is no Service endpoint; nothing here needs the kubernetes
                // Service's.
                "--endpoint-reconciler-type=none",
                "--tls-cert-file=" + serving.cert(),
                "--tls-private-key-file=" + serving.key(),
                "--client-ca-file=" + pki.caCert,
                "--service-account-issuer=https://kubernetes.default.svc",
                "--service-account-key-file=" + serviceAccounts.cert(),
                "--service-account-signing-key-file=" + serviceAccounts.key(),
                "--service-cluster-ip-range=10.96.0.0/24",
                "--authorization-mode=RBAC"));
    cmd.addAll(s.storage);
    cmd.addAll(extraArgs);
    s.apiserver = procs.start(s.name + "-kube-apiserver", cmd);
    commands.add(String.join(" ", cmd));
  }

  private void awaitReady(Server s) throws Exception {
    long deadline = System.currentTimeMillis() + 240_000;
    String last = "no answer";
    while (System.currentTimeMillis() < deadline) {
      if (!s.apiserver.isAlive()) {
        throw new IOException(
            s.name + " kube-apiserver exited with " + s.apiserver.exitValue() + "; see " + log(s));
      }
      try {
        KubeApi.Answer a = s.api.raw("/readyz");
        if (a.status() == 200) {
          return;
        }
        last = a.status() + " " + a.head();
      } catch (IOException e) {
        last = e.toString();
      }
      Thread.sleep(250);
    }
    throw new IOException(
        s.name + " kube-apiserver not ready in 240 s (" + last + "); see " + log(s));
  }

  private Path log(Server s) {
    return procs.log(s.name + "-kube-apiserver");
  }

  private static void awaitProxyReady(Process p, int adminPort) throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    HttpRequest readyz =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + "/readyz"))
            .timeout(Duration.ofSeconds(2))
            .build();
    long deadline = System.currentTimeMillis() + 90_000;
    while (System.currentTimeMillis() < deadline) {
      if (!p.isAlive()) {
        throw new IOException("etcd-crypt-proxy exited with " + p.exitValue() + " at start");
      }
      try {
        if (http.send(readyz, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
          return;
        }
      } catch (IOException notYet) {
        // not listening yet
      }
      Thread.sleep(200);
    }
    throw new IOException("etcd-crypt-proxy not ready (/readyz) within 90 s");
  }

  private static void awaitFile(Process p, String what, Path file) throws Exception {
    long deadline = System.currentTimeMillis() + 60_000;
    while (!Files.exists(file)) {
      if (!p.isAlive() || System.currentTimeMillis() > deadline) {
        throw new IOException(what + " did not create " + file);
      }
      Thread.sleep(100);
    }
  }

  private static void stop(Process p) throws InterruptedException {
    p.destroy();
    if (!p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)) {
      p.destroyForcibly().waitFor();
    }
  }

  @Override
  public void close() {
    procs.close();
  }
}
