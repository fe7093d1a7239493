package io.etcdcrypt.proxy;

import com.google.common.util.concurrent.ThreadFactoryBuilder;
import io.etcdcrypt.proxy.CertificateFiles.Identity;
import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ServerCredentials;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import io.grpc.util.AdvancedTlsX509KeyManager;
import io.grpc.util.AdvancedTlsX509TrustManager;
import java.io.IOException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The TLS files of one side of the proxy, checked when loaded and reloaded when they change on
 * disk, as etcd and kube-apiserver reload rotated certificates.
 *
 * <p>The certificate and key live in grpc-java's {@link AdvancedTlsX509KeyManager} and the CA in
 * its {@link AdvancedTlsX509TrustManager}, which every new handshake asks: swapping their contents
 * changes what new connections get, and running connections keep theirs. Their own file watching is
 * not used: it reloads no more often than once a minute, only when the key file changed too (a
 * renewed certificate for the same key is missed), and installs a pair whose key is not the
 * certificate's. Here {@link #reloadIfChanged()} compares the files' contents, and a changed pair
 * or CA replaces the running one only when it passes the start-up checks (it parses, the key is the
 * certificate's, it has not expired); a broken one that stays so for a check is logged once, and
 * the running one stays.
 */
public final class LiveTls {

  private static final Logger log = LoggerFactory.getLogger(LiveTls.class);

  /** The flag names of one side, and what its pair serves, for messages. */
  private record Flags(String cert, String key, String ca, String serves) {}

  private static final Flags LISTENER =
      new Flags("--cert-file", "--key-file", "--trusted-ca-file", "the listener serves TLS");
  private static final Flags ETCD_CLIENT = new Flags("--cert", "--key", "--cacert", null);
  private static final Flags METRICS =
      new Flags(
          "--metrics-cert-file",
          "--metrics-key-file",
          "--metrics-client-ca-file",
          "the admin endpoint serves HTTPS");

  private final TlsFiles files;
  private final Flags flags;
  private final Endpoint listen;
  private final Clock clock;
  private final AdvancedTlsX509KeyManager keyManager;
  private final AdvancedTlsX509TrustManager trustManager;
  private final List<String> warnings = new ArrayList<>();
  private final List<Consumer<X509Certificate>> identityListeners = new CopyOnWriteArrayList<>();
  private final List<Consumer<X509Certificate[]>> caListeners = new CopyOnWriteArrayList<>();

  // What is loaded, and what a check found broken; guarded by this.
  private volatile Identity identity;
  private volatile X509Certificate[] cas;
  private byte[] pairDigest;
  private byte[] caDigest;
  private final Broken brokenPair = new Broken();
  private final Broken brokenCa = new Broken();
  private String expiryWarned;

  private LiveTls(TlsFiles files, Flags flags, Endpoint listen, Clock clock) {
    this.files = files;
    this.flags = flags;
    this.listen = listen;
    this.clock = clock;
    Instant now = clock.instant();
    if (files.certFile() != null || files.keyFile() != null) {
      requirePair();
      byte[] cert = CertificateFiles.read(files.certFile(), flags.cert);
      byte[] key = CertificateFiles.read(files.keyFile(), flags.key);
      identity = readIdentity(cert, key, now);
      pairDigest = digest(cert, key);
      keyManager = new AdvancedTlsX509KeyManager();
      keyManager.updateIdentityCredentials(identity.chain(), identity.key());
      warnings.addAll(identityWarnings(identity, now));
      expiryWarned = expiryState(identity, now);
    } else {
      keyManager = null;
    }
    if (files.trustedCaFile() != null) {
      byte[] ca = CertificateFiles.read(files.trustedCaFile(), flags.ca);
      trustManager = newTrustManager();
      trustCas(ca);
      caDigest = digest(ca);
    } else {
      trustManager = null;
    }
  }

  /**
   * The listener's files ({@code --cert-file}, {@code --key-file}, {@code --trusted-ca-file}),
   * checked now; {@code listen} (may be null) is the address whose host the certificate should
   * name.
   *
   * @throws IllegalArgumentException for a mistake in the flags or files, naming the flag
   */
  public static LiveTls forListener(TlsFiles files, Endpoint listen) {
    requireServerPairForCa(files, LISTENER);
    return new LiveTls(files, LISTENER, listen, Clock.systemUTC());
  }

  /**
   * The admin endpoint's files ({@code --metrics-cert-file}, {@code --metrics-key-file}, {@code
   * --metrics-client-ca-file}), checked now. Its certificate's names are not checked against {@code
   * --metrics-addr}: scrapers reach it by pod IP, which no certificate names, and verify a name
   * they are told (Prometheus' {@code server_name}).
   *
   * @throws IllegalArgumentException for a mistake in the flags or files, naming the flag
   */
  public static LiveTls forMetrics(TlsFiles files) {
    requireServerPairForCa(files, METRICS);
    return new LiveTls(files, METRICS, null, Clock.systemUTC());
  }

  private static void requireServerPairForCa(TlsFiles files, Flags flags) {
    if (files.trustedCaFile() != null && files.certFile() == null && files.keyFile() == null) {
      throw new IllegalArgumentException(
          flags.ca
              + " needs "
              + flags.cert
              + " and "
              + flags.key
              + ": "
              + flags.serves
              + " with its own certificate and key, and the CA only checks the certificates clients"
              + " present");
    }
  }

  /**
   * The files toward etcd ({@code --cacert}, {@code --cert}, {@code --key}), checked now.
   *
   * @throws IllegalArgumentException for a mistake in the flags or files, naming the flag
   */
  public static LiveTls forEtcdClient(TlsFiles files) {
    return new LiveTls(files, ETCD_CLIENT, null, Clock.systemUTC());
  }

  public TlsFiles files() {
    return files;
  }

  /**
   * What is worth a warning about the files loaded at start: a certificate that expires within
   * {@link CertificateFiles#EXPIRY_WARNING}, one that does not name the listener's host.
   */
  public List<String> warnings() {
    return List.copyOf(warnings);
  }

  /**
   * Credentials for the client-facing listener. With a trusted CA, clients must present a
   * certificate signed by it, exactly as etcd does with {@code --client-cert-auth} and
   * kube-apiserver expects.
   */
  public ServerCredentials serverCredentials() {
    if (keyManager == null) {
      return InsecureServerCredentials.create();
    }
    TlsServerCredentials.Builder b = TlsServerCredentials.newBuilder().keyManager(keyManager);
    if (trustManager != null) {
      b.trustManager(trustManager).clientAuth(TlsServerCredentials.ClientAuth.REQUIRE);
    }
    return b.build();
  }

  /** Credentials toward etcd: a CA to verify members, and optionally a client certificate. */
  public ChannelCredentials channelCredentials() {
    if (!files.enabled()) {
      return InsecureChannelCredentials.create();
    }
    TlsChannelCredentials.Builder b = TlsChannelCredentials.newBuilder();
    if (trustManager != null) {
      b.trustManager(trustManager);
    }
    if (keyManager != null) {
      b.keyManager(keyManager);
    }
    return b.build();
  }

  /**
   * A JDK {@link SSLContext} for an HTTPS server that presents this side's certificate (a reloaded
   * one from the next handshake on) and checks client certificates with {@code clients}.
   */
  public SSLContext serverSslContext(TrustManager clients) {
    if (keyManager == null) {
      throw new IllegalStateException("no certificate and key to serve TLS with");
    }
    try {
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(new KeyManager[] {keyManager}, new TrustManager[] {clients}, null);
      return context;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot create a TLS context", e);
    }
  }

  /**
   * Calls {@code listener} with the CA certificates in use now (if any) and again after every
   * reload that replaced them.
   */
  public void onTrustedCas(Consumer<X509Certificate[]> listener) {
    caListeners.add(listener);
    X509Certificate[] current = cas;
    if (current != null) {
      listener.accept(current.clone());
    }
  }

  /**
   * Calls {@code listener} with the leaf certificate in use now (if any) and again after every
   * reload that replaced it.
   */
  public void onIdentity(Consumer<X509Certificate> listener) {
    identityListeners.add(listener);
    Identity current = identity;
    if (current != null) {
      listener.accept(current.leaf());
    }
  }

  /**
   * Reads the files again; a changed pair or CA that passes the start-up checks replaces the one in
   * use for new connections, a broken one is logged (once it stayed broken for a check) and
   * ignored. Also warns, once, when the certificate in use comes within {@link
   * CertificateFiles#EXPIRY_WARNING} of its expiry, and when it expires.
   */
  public synchronized void reloadIfChanged() {
    Instant now = clock.instant();
    if (keyManager != null) {
      reloadPair(now);
      String state = expiryState(identity, now);
      if (state != null && !state.equals(expiryWarned)) {
        log.warn(
            "{}", CertificateFiles.expiresSoon(identity.leaf(), files.certFile(), flags.cert, now));
      }
      expiryWarned = state;
    }
    if (trustManager != null) {
      reloadCa();
    }
  }

  private void reloadPair(Instant now) {
    byte[] digest = null;
    try {
      byte[] cert = CertificateFiles.read(files.certFile(), flags.cert);
      byte[] key = CertificateFiles.read(files.keyFile(), flags.key);
      digest = digest(cert, key);
      if (Arrays.equals(digest, pairDigest)) {
        brokenPair.clear();
        return;
      }
      Identity next = readIdentity(cert, key, now);
      keyManager.updateIdentityCredentials(next.chain(), next.key());
      identity = next;
      pairDigest = digest;
      brokenPair.clear();
      log.info(
          "{} {} and {} {} changed: new connections get {}",
          flags.cert,
          files.certFile(),
          flags.key,
          files.keyFile(),
          next.describe());
      identityWarnings(next, now).forEach(w -> log.warn("{}", w));
      expiryWarned = expiryState(next, now);
      identityListeners.forEach(l -> l.accept(next.leaf()));
    } catch (IllegalArgumentException e) {
      if (brokenPair.stillBroken(digest, e.getMessage())) {
        log.warn(
            "{} and {} changed but cannot be used, so new connections still get the certificate"
                + " loaded before ({}): {}; write the new key and certificate, then move both into"
                + " place",
            flags.cert,
            flags.key,
            identity.describe(),
            e.getMessage());
      }
    }
  }

  private void reloadCa() {
    byte[] digest = null;
    try {
      byte[] ca = CertificateFiles.read(files.trustedCaFile(), flags.ca);
      digest = digest(ca);
      if (Arrays.equals(digest, caDigest)) {
        brokenCa.clear();
        return;
      }
      int count = trustCas(ca);
      caDigest = digest;
      brokenCa.clear();
      log.info(
          "{} {} changed: new connections are checked against its {} certificate(s)",
          flags.ca,
          files.trustedCaFile(),
          count);
    } catch (IllegalArgumentException e) {
      if (brokenCa.stillBroken(digest, e.getMessage())) {
        log.warn(
            "{} changed but cannot be used, so new connections are still checked against the CA"
                + " loaded before: {}",
            flags.ca,
            e.getMessage());
      }
    }
  }

  /**
   * Reloads every one of {@code tls} every {@code period} on a daemon thread, until closed.
   * Failures never stop it.
   */
  public static AutoCloseable reloadEvery(Duration period, List<LiveTls> tls) {
    ScheduledExecutorService timer =
        Executors.newSingleThreadScheduledExecutor(
            new ThreadFactoryBuilder().setNameFormat("tls-reload").setDaemon(true).build());
    long millis = Math.max(1, period.toMillis());
    timer.scheduleWithFixedDelay(
        () -> {
          for (LiveTls t : tls) {
            try {
              t.reloadIfChanged();
            } catch (RuntimeException e) {
              log.warn("checking the TLS files {} for changes failed", t.files, e);
            }
          }
        },
        millis,
        millis,
        TimeUnit.MILLISECONDS);
    return timer::shutdownNow;
  }

  private void requirePair() {
    if (files.certFile() == null) {
      throw new IllegalArgumentException(
          flags.key + " is given without " + flags.cert + ": give the certificate of that key too");
    }
    if (files.keyFile() == null) {
      throw new IllegalArgumentException(
          flags.cert
              + " is given without "
              + flags.key
              + ": give the certificate's private key too");
    }
  }

  private Identity readIdentity(byte[] cert, byte[] key, Instant now) {
    return CertificateFiles.identity(
        cert, key, files.certFile(), files.keyFile(), flags.cert, flags.key, now);
  }

  private List<String> identityWarnings(Identity id, Instant now) {
    List<String> found = new ArrayList<>();
    String soon = CertificateFiles.expiresSoon(id.leaf(), files.certFile(), flags.cert, now);
    if (soon != null) {
      found.add(soon);
    }
    if (listen != null) {
      String san = CertificateFiles.sanMismatch(id.leaf(), files.certFile(), flags.cert, listen);
      if (san != null) {
        found.add(san);
      }
    }
    return found;
  }

  /** "expired", "soon" or null: which expiry warning the certificate deserves now. */
  private static String expiryState(Identity id, Instant now) {
    Instant notAfter = id.leaf().getNotAfter().toInstant();
    if (now.isAfter(notAfter)) {
      return "expired";
    }
    return now.plus(CertificateFiles.EXPIRY_WARNING).isAfter(notAfter) ? "soon" : null;
  }

  private static AdvancedTlsX509TrustManager newTrustManager() {
    try {
      return AdvancedTlsX509TrustManager.newBuilder()
          .setVerification(
              AdvancedTlsX509TrustManager.Verification.CERTIFICATE_AND_HOST_NAME_VERIFICATION)
          .build();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot create a trust manager", e);
    }
  }

  /** Installs the CA certificates of {@code pem}; returns how many. */
  private int trustCas(byte[] pem) {
    Path file = files.trustedCaFile();
    X509Certificate[] loaded = CertificateFiles.certificates(pem, file, flags.ca);
    try {
      trustManager.updateTrustCredentials(loaded);
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalArgumentException(
          flags.ca + " " + file + " cannot be used as a CA bundle: " + e.getMessage(), e);
    }
    cas = loaded;
    caListeners.forEach(l -> l.accept(loaded.clone()));
    return loaded.length;
  }

  private static byte[] digest(byte[]... parts) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      for (byte[] p : parts) {
        sha.update(p);
        sha.update((byte) 0);
      }
      return sha.digest();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * A changed file that fails the checks: a rotation writes the certificate and the key one after
   * the other, so only a change that is still broken one check later is reported, once.
   */
  private static final class Broken {
    private Object seen;
    private boolean reported;

    /** Whether to report now: the same broken content (or error) as last check, not yet told. */
    boolean stillBroken(byte[] digest, String message) {
      Object what = digest != null ? Arrays.toString(digest) : message;
      if (!Objects.equals(what, seen)) {
        seen = what;
        reported = false;
        log.debug("TLS files changed but do not pass the checks (yet?): {}", message);
        return false;
      }
      if (reported) {
        return false;
      }
      reported = true;
      return true;
    }

    void clear() {
      seen = null;
      reported = false;
    }
  }
}
