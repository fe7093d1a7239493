package io.etcdcrypt.testing;

import com.google.protobuf.ByteString;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeResponse;
import io.etcdcrypt.proxy.TlsFiles;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * A Kubernetes control plane the way the README deploys it, for one test class: etcd with
 * client-certificate authentication (as kubeadm runs it), the bundled KMS plugin, the proxy ({@code
 * serve} in its own JVM) with mTLS on both sides, and a real kube-apiserver whose {@code
 * --etcd-servers} is the proxy and which has no {@code --encryption-provider-config}. Every
 * certificate comes from one test CA, as kubeadm's etcd CA.
 *
 * <pre>
 * {@code @RegisterExtension static final KubeTestBed bed = KubeTestBed.withConfig(KubeTestBed.ALL_PROVIDERS);}
 * </pre>
 */
public final class KubeTestBed implements BeforeAllCallback, AfterAllCallback, TestWatcher {

  /** The KMS provider's name in {@link #ALL_PROVIDERS}, written into every value it encrypts. */
  public static final String KMS_NAME = "bundled-kms";

  public static final String GCM_KEY = TestCodecs.randomKey(32);
  public static final String BOX_KEY = TestCodecs.randomKey(32);
  public static final String CBC_KEY = TestCodecs.randomKey(32);

  /**
   * One configured resource per provider kind, each keeping identity for reading: Secrets with KMS
   * v2 through the bundled plugin, ConfigMaps with aesgcm, the custom resource {@code
   * widgets.example.com} with secretbox and PodTemplates with aescbc. {@code ${KMS_ENDPOINT}} is
   * the plugin's socket.
   */
  public static final String ALL_PROVIDERS =
      """
      apiVersion: apiserver.config.k8s.io/v1
      kind: EncryptionConfiguration
      resources:
        - resources: [secrets]
          providers:
            - kms: {apiVersion: v2, name: %s, endpoint: "${KMS_ENDPOINT}", timeout: 3s}
            - identity: {}
        - resources: [configmaps]
          providers:
            - aesgcm: {keys: [{name: gcm1, secret: "%s"}]}
            - identity: {}
        - resources: [widgets.example.com]
          providers:
            - secretbox: {keys: [{name: box1, secret: "%s"}]}
            - identity: {}
        - resources: [podtemplates]
          providers:
            - aescbc: {keys: [{name: cbc1, secret: "%s"}]}
            - identity: {}
      """
          .formatted(KMS_NAME, GCM_KEY, BOX_KEY, CBC_KEY);

  /** The provider prefixes {@link #ALL_PROVIDERS} writes. */
  public static final String KMS_PREFIX = "k8s:enc:kms:v2:" + KMS_NAME + ":";

  public static final String GCM_PREFIX = "k8s:enc:aesgcm:v1:gcm1:";
  public static final String BOX_PREFIX = "k8s:enc:secretbox:v1:box1:";
  public static final String CBC_PREFIX = "k8s:enc:aescbc:v1:cbc1:";

  private final EtcdRelease release;
  private final String configTemplate;
  private Path dir;
  private TestPki pki;
  private EtcdProcess etcd;
  private KmsPluginFixture kms;
  private Path config;
  private TlsFiles apiserverToEtcd;
  private ProxyProcess proxy;
  private KubeApiServer apiserver;
  private ManagedChannel raw;
  private TestPki.Leaf operator;
  private volatile boolean failed;

  private KubeTestBed(EtcdRelease release, String configTemplate) {
    this.release = release;
    this.configTemplate = configTemplate;
  }

  /**
   * A cluster before the proxy: kube-apiserver straight on etcd without encryption, and no proxy
   * until {@link #startProxy(Path)}.
   */
  public static KubeTestBed withoutProxy() {
    return new KubeTestBed(EtcdRelease.current(), null);
  }

  /** A bed on the etcd release of this test run ({@link EtcdRelease#current()}). */
  public static KubeTestBed withConfig(String configTemplate) {
    return new KubeTestBed(EtcdRelease.current(), configTemplate);
  }

  /** A bed on a given etcd release. */
  public static KubeTestBed withConfig(EtcdRelease release, String configTemplate) {
    return new KubeTestBed(release, configTemplate);
  }

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    dir = Files.createTempDirectory("kube-bed-");
    pki = new TestPki(dir, "etcd-ca");
    etcd = EtcdProcess.startSingleTls(release, pki);
    raw = etcd.channel();
    kms = KmsPluginFixture.start(dir);
    TestPki.Leaf apiserverClient = pki.issue("apiserver-etcd-client");
    apiserverToEtcd = new TlsFiles(apiserverClient.cert(), apiserverClient.key(), pki.caCert());
    if (configTemplate == null) {
      apiserver = KubeApiServer.start(dir, pki, directToEtcd());
      return;
    }
    config = writeConfig("encryption-config.yaml", configTemplate);
    startProxy(config);
    apiserver = KubeApiServer.start(dir, pki, throughProxy());
  }

  /**
   * Starts the proxy with {@code configFile} (kube-apiserver keeps its storage flags until
   * restarted).
   */
  public void startProxy(Path configFile) {
    if (proxy != null) {
      throw new IllegalStateException("the proxy runs already; restart it instead");
    }
    proxy = ProxyProcess.start(dir, proxyArgs(configFile));
  }

  /**
   * Writes {@code template} with the plugin's endpoint filled in, as a file in the bed's directory.
   */
  public Path writeConfig(String fileName, String template) {
    Path file = dir.resolve(fileName);
    try {
      Files.writeString(file, template.replace("${KMS_ENDPOINT}", kms.endpoint().toString()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return file;
  }

  /**
   * {@code serve}'s flags for this bed: etcd over mTLS with the proxy's own client certificate, a
   * listener that requires client certificates from the same CA, and {@code configFile}.
   */
  public List<String> proxyArgs(Path configFile) {
    TestPki.Leaf server = pki.issue("etcd-crypt-proxy");
    TestPki.Leaf client = pki.issue("etcd-crypt-proxy-client");
    return new ArrayList<>(
        List.of(
            "--endpoints",
            etcd.clientUrl(),
            "--cacert",
            pki.caCert().toString(),
            "--cert",
            client.cert().toString(),
            "--key",
            client.key().toString(),
            "--cert-file",
            server.cert().toString(),
            "--key-file",
            server.key().toString(),
            "--trusted-ca-file",
            pki.caCert().toString(),
            "--encryption-provider-config",
            configFile.toString()));
  }

  /**
   * The etcd client flags of {@code rewrap} and {@code census}, straight to etcd with a client
   * certificate.
   */
  public synchronized List<String> etcdToolArgs() {
    if (operator == null) {
      operator = pki.issue("etcd-operator");
    }
    return new ArrayList<>(
        List.of(
            "--endpoints",
            etcd.clientUrl(),
            "--cacert",
            pki.caCert().toString(),
            "--cert",
            operator.cert().toString(),
            "--key",
            operator.key().toString()));
  }

  /** What kube-apiserver's {@code --etcd-servers} is set to for the proxy. */
  public String proxyUrl() {
    return "https://" + proxy.endpoint();
  }

  /** kube-apiserver's storage flags when it talks to the proxy and does not encrypt. */
  public KubeApiServer.Storage throughProxy() {
    return KubeApiServer.Storage.plain(proxyUrl(), apiserverToEtcd);
  }

  /**
   * kube-apiserver's storage flags when it talks to the proxy and still encrypts with {@code
   * configFile}: the mistake of forgetting to remove {@code --encryption-provider-config}.
   */
  public KubeApiServer.Storage throughProxyEncryptingToo(Path configFile) {
    return KubeApiServer.Storage.nativeEncryption(proxyUrl(), apiserverToEtcd, configFile);
  }

  /**
   * kube-apiserver's storage flags when it talks to etcd directly and does not encrypt: a cluster
   * before.
   */
  public KubeApiServer.Storage directToEtcd() {
    return KubeApiServer.Storage.plain(etcd.clientUrl(), apiserverToEtcd);
  }

  /**
   * kube-apiserver's storage flags when it talks to etcd directly and encrypts with {@code
   * configFile}.
   */
  public KubeApiServer.Storage nativeEncryption(Path configFile) {
    return KubeApiServer.Storage.nativeEncryption(etcd.clientUrl(), apiserverToEtcd, configFile);
  }

  /**
   * The bytes etcd stores under {@code key} (its latest revision), or null when the key does not
   * exist.
   */
  public byte[] rawValue(String key) {
    RangeResponse r =
        KVGrpc.newBlockingStub(raw)
            .withDeadlineAfter(10, TimeUnit.SECONDS)
            .range(RangeRequest.newBuilder().setKey(ByteString.copyFromUtf8(key)).build());
    return r.getKvsCount() == 0 ? null : r.getKvs(0).getValue().toByteArray();
  }

  /**
   * Opens what etcd stores under {@code key} with {@link SpecDecoder} (code independent of the
   * proxy's) and the keys of {@link #ALL_PROVIDERS}: the plaintext kube-apiserver serialized. A
   * value stored unencrypted comes back as it is; a value under any other {@code k8s:enc:} prefix
   * fails the test.
   */
  public byte[] storedPlaintext(String key) throws Exception {
    byte[] stored = rawValue(key);
    if (stored == null) {
      throw new AssertionError("etcd has no " + key);
    }
    byte[] aad = key.getBytes(StandardCharsets.UTF_8);
    String head = new String(stored, 0, Math.min(stored.length, 64), StandardCharsets.ISO_8859_1);
    Base64.Decoder b64 = Base64.getDecoder();
    if (head.startsWith(KMS_PREFIX)) {
      return SpecDecoder.kmsV2(kms.endpoint(), SpecDecoder.body(stored, KMS_PREFIX), aad)
          .plaintext();
    } else if (head.startsWith(GCM_PREFIX)) {
      return SpecDecoder.aesGcm(b64.decode(GCM_KEY), SpecDecoder.body(stored, GCM_PREFIX), aad);
    } else if (head.startsWith(BOX_PREFIX)) {
      return SpecDecoder.secretbox(b64.decode(BOX_KEY), SpecDecoder.body(stored, BOX_PREFIX));
    } else if (head.startsWith(CBC_PREFIX)) {
      return SpecDecoder.aesCbc(b64.decode(CBC_KEY), SpecDecoder.body(stored, CBC_PREFIX));
    } else if (head.startsWith("k8s:enc:")) {
      throw new AssertionError(key + " is stored under an unexpected provider: " + head);
    }
    return stored;
  }

  public KubernetesClient client() {
    return apiserver.client();
  }

  public KubeApiServer apiserver() {
    return apiserver;
  }

  public ProxyProcess proxy() {
    return proxy;
  }

  public KmsPluginFixture kms() {
    return kms;
  }

  public EtcdProcess etcd() {
    return etcd;
  }

  /** The configuration file the proxy started with (null for {@link #withoutProxy()}). */
  public Path config() {
    return config;
  }

  public Path dir() {
    return dir;
  }

  @Override
  public void testFailed(ExtensionContext context, Throwable cause) {
    failed = true;
  }

  /** Copies the logs of every process to {@code target/test-logs/<class>/}, where CI keeps them. */
  private void keepLogs(String testClass) {
    Path to = Path.of("target", "test-logs", testClass);
    try (Stream<Path> s = Files.list(dir)) {
      Files.createDirectories(to);
      for (Path log : (Iterable<Path>) s.filter(p -> p.toString().endsWith(".log"))::iterator) {
        Files.copy(log, to.resolve(log.getFileName()), StandardCopyOption.REPLACE_EXISTING);
      }
      Files.copy(etcd.logFile(), to.resolve("etcd.log"), StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException | RuntimeException e) {
      System.err.println("could not keep the logs of " + testClass + ": " + e);
    }
  }

  @Override
  public void afterAll(ExtensionContext context) {
    if (dir != null && etcd != null && (failed || context.getExecutionException().isPresent())) {
      keepLogs(context.getRequiredTestClass().getSimpleName());
    }
    for (AutoCloseable c : new AutoCloseable[] {apiserver, proxy, kms, etcd}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception ignored) {
        // keep closing the rest
      }
    }
    if (raw != null) {
      raw.shutdownNow();
    }
    Processes.deleteTree(dir);
  }
}
