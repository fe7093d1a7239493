package io.etcdcrypt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.ops.OpsFixtures;
import io.etcdcrypt.testing.FreePorts;
import io.etcdcrypt.testing.JavaProcess;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.TestPki;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Start-up mistakes end in a line or two that name the flag and say what to do, with exit code 2
 * for a flag that is wrong and 1 for what the host refuses, never a stack trace. {@code serve} runs
 * as operators run it (the built jar in a child JVM), since it reports through its log.
 */
@RealComponents
@Timeout(120)
class StartupMistakesTest {

  @TempDir Path dir;
  private Path config;

  @BeforeEach
  void aConfiguration() throws Exception {
    config = OpsFixtures.identityConfig(dir);
  }

  /**
   * {@code serve} with the configuration, an etcd and a listener address (unless {@code more} gives
   * them) and {@code more}.
   */
  private Outcome serve(String... more) throws Exception {
    List<String> args =
        new ArrayList<>(List.of("serve", "--encryption-provider-config", config.toString()));
    if (!List.of(more).contains("--endpoints")) {
      args.addAll(List.of("--endpoints", "127.0.0.1:" + FreePorts.next()));
    }
    if (!List.of(more).contains("--listen-addr")) {
      args.addAll(List.of("--listen-addr", "127.0.0.1:" + FreePorts.next()));
    }
    args.addAll(List.of(more));
    try (JavaProcess p =
        JavaProcess.start(dir.resolve("serve.log"), Map.of(), args.toArray(String[]::new))) {
      int code = p.waitFor();
      return new Outcome(code, p.output());
    }
  }

  private record Outcome(int exitCode, String output) {
    /** The exit code, the message, no stack trace and a few lines in all. */
    void assertRefused(int code, String message) {
      assertEquals(code, exitCode, this::toString);
      assertTrue(output.contains(message), this::toString);
      assertFalse(output.contains("Exception") || output.contains("\tat "), this::toString);
      assertTrue(output.lines().count() <= 6, "a few lines, not a trace: " + this);
    }
  }

  private static Outcome cli(String... args) {
    CliRun r = CliRun.of(args);
    return new Outcome(r.exitCode(), r.err() + r.out());
  }

  @Test
  void aListenerPortInUseNamesTheFlagAndTheAddress() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      String address = "127.0.0.1:" + taken.getLocalPort();
      serve("--listen-addr", address)
          .assertRefused(
              1,
              "--listen-addr "
                  + address
                  + ": the address is already in use (another etcd-crypt-proxy or etcd?): stop what"
                  + " listens there or give another --listen-addr");
      serve("--metrics-addr", address)
          .assertRefused(
              1,
              "--metrics-addr "
                  + address
                  + ": the address is already in use (another etcd-crypt-proxy or etcd?): stop what"
                  + " listens there or give another --metrics-addr");
    }
  }

  @Test
  void tlsFlagsSayWhatIsMissing() throws Exception {
    Path ca = Files.writeString(dir.resolve("ca.pem"), "not checked before the pair");
    serve("--trusted-ca-file", ca.toString())
        .assertRefused(
            2,
            "--trusted-ca-file needs --cert-file and --key-file: the listener serves TLS with its own"
                + " certificate and key, and the CA only checks the certificates clients present");
    serve("--cert-file", ca.toString())
        .assertRefused(
            2, "--cert-file is given without --key-file: give the certificate's private key too");
    serve("--key", ca.toString())
        .assertRefused(2, "--key is given without --cert: give the certificate of that key too");
    serve("--cert-file", dir.resolve("missing.pem").toString(), "--key-file", ca.toString())
        .assertRefused(2, "--cert-file " + dir.resolve("missing.pem") + " does not exist");
  }

  /**
   * A key that is not the certificate's, or an expired certificate, would fail every handshake with
   * nothing in the log: refused at start, for the listener's pair and for the client pair toward
   * etcd alike.
   */
  @Test
  void aKeyThatIsNotTheCertificatesOrAnExpiredCertificateIsRefused() throws Exception {
    TestPki pki = new TestPki(Files.createDirectory(dir.resolve("pki")), "ca");
    TestPki.Leaf a = pki.issue("a");
    TestPki.Leaf b = pki.issue("b");
    serve("--cert-file", a.cert().toString(), "--key-file", b.key().toString())
        .assertRefused(
            2,
            "--cert-file "
                + a.cert()
                + " and --key-file "
                + b.key()
                + " do not belong together: the key is not the private key of the certificate"
                + " (CN=a, serial ");
    serve("--cert", a.cert().toString(), "--key", b.key().toString())
        .assertRefused(
            2, "--cert " + a.cert() + " and --key " + b.key() + " do not belong together");
    TestPki.Leaf old = pki.issue("old", Instant.now().minus(Duration.ofDays(1)), "IP:127.0.0.1");
    serve("--cert-file", old.cert().toString(), "--key-file", old.key().toString())
        .assertRefused(
            2, "--cert-file " + old.cert() + " expired on " + old.notAfter() + " (CN=old, serial ");
  }

  /** The admin endpoint's TLS flags are checked as the listener's, before anything listens. */
  @Test
  void metricsTlsFlagsSayWhatIsMissingOrWrong() throws Exception {
    TestPki pki = new TestPki(Files.createDirectory(dir.resolve("pki")), "ca");
    TestPki.Leaf a = pki.issue("a");
    TestPki.Leaf b = pki.issue("b");
    String metrics = "127.0.0.1:" + FreePorts.next();
    serve("--metrics-addr", metrics, "--metrics-cert-file", a.cert().toString())
        .assertRefused(
            2,
            "--metrics-cert-file is given without --metrics-key-file: give the certificate's"
                + " private key too");
    serve("--metrics-addr", metrics, "--metrics-client-ca-file", pki.caCert().toString())
        .assertRefused(
            2,
            "--metrics-client-ca-file needs --metrics-cert-file and --metrics-key-file: the admin"
                + " endpoint serves HTTPS with its own certificate and key, and the CA only checks"
                + " the certificates clients present");
    Outcome mismatched =
        serve(
            "--metrics-addr",
            metrics,
            "--metrics-cert-file",
            a.cert().toString(),
            "--metrics-key-file",
            b.key().toString());
    mismatched.assertRefused(
        2,
        "--metrics-cert-file "
            + a.cert()
            + " and --metrics-key-file "
            + b.key()
            + " do not belong together: the key is not the private key of the certificate (CN=a,");
    String key = Files.readString(b.key());
    String keyBody = key.lines().filter(l -> !l.startsWith("-----")).findFirst().orElseThrow();
    assertFalse(mismatched.output().contains(keyBody), "the key is never logged");
    serve("--metrics-cert-file", a.cert().toString(), "--metrics-key-file", a.key().toString())
        .assertRefused(
            2,
            "--metrics-cert-file needs --metrics-addr: it secures the admin endpoint, which is off"
                + " without it");
  }

  @Test
  void unparsableValuesAreUsageErrors() throws Exception {
    serve("--endpoints", "foo://bar:x")
        .assertRefused(
            2, "endpoint 'foo://bar:x' has scheme 'foo'; use host:port, http:// or https://");
    cli("serve", "--encryption-provider-config", config.toString(), "--log-level", "verbose")
        .assertRefused(
            2,
            "serve: Invalid value for option '--log-level': expected one of [ERROR, WARN, INFO,"
                + " DEBUG, TRACE] (case-insensitive) but was 'verbose'");
    Outcome mistyped =
        cli(
            "serve",
            "--encryption-provider-config",
            config.toString(),
            "--listen-address",
            "127.0.0.1:1");
    mistyped.assertRefused(2, "serve: Unknown options: '--listen-address', '127.0.0.1:1'");
    assertTrue(mistyped.output().contains("--listen-addr"), mistyped::toString);
    assertTrue(
        mistyped.output().contains("'etcd-crypt-proxy serve --help' lists the flags"),
        mistyped::toString);
  }

  @Test
  void aPluginSocketInAMissingDirectorySaysToCreateIt() throws Exception {
    Path keys = Files.writeString(dir.resolve("keys"), "k1: " + "A".repeat(43) + "=\n");
    Files.setPosixFilePermissions(
        keys, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    Path socket = dir.resolve("no-such-dir/plugin.sock");
    cli("kms-plugin", "--key-file", keys.toString(), "--listen", "unix://" + socket)
        .assertRefused(
            1,
            "kms-plugin: --listen unix://"
                + socket
                + ": the directory "
                + socket.getParent()
                + " does not exist: create it");
  }
}
