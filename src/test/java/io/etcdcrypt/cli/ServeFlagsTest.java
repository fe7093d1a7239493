package io.etcdcrypt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The flags of {@code serve} that follow etcd's: request limits and the client URLs member lists
 * hand out.
 */
class ServeFlagsTest {

  private static ServeCommand parse(String... args) {
    CommandLine.ParseResult r = Main.commandLine().parseArgs(args);
    return (ServeCommand) r.subcommand().commandSpec().userObject();
  }

  @Test
  void limitsDefaultToEtcds() {
    ServeCommand serve = parse("serve", "--encryption-provider-config", "c.yaml");
    assertEquals(1572864, serve.maxRequestBytes, "etcd's --max-request-bytes default");
    assertEquals(
        Integer.MAX_VALUE,
        serve.etcd.maxRecvBytes,
        "what etcd may send: as clientv3 and grpc-proxy");
    assertEquals(List.of(), serve.advertiseClientUrls, "empty: the listener's URL");
    assertEquals(32L << 20, serve.maxInFlightBytes, "--max-in-flight-bytes: 32 MiB");
    assertEquals(
        3 << 20,
        parse("serve", "--encryption-provider-config", "c.yaml", "--max-request-bytes", "3145728")
            .maxRequestBytes);
  }

  @Test
  void grpcProxysFlagNameIsTheSameFlagAndListsAreCommaSeparated() {
    ServeCommand serve =
        parse(
            "serve",
            "--encryption-provider-config",
            "c.yaml",
            "--advertise-client-url",
            "proxy-a:23790",
            "--advertise-client-urls",
            "https://b:23790,https://c:23790");
    assertEquals(
        List.of("proxy-a:23790", "https://b:23790", "https://c:23790"), serve.advertiseClientUrls);
  }

  @Test
  void aUrlClientsCannotDialStopsServeBeforeItListens(@TempDir Path dir) throws Exception {
    Path config =
        Files.writeString(
            dir.resolve("c.yaml"),
            String.join(
                "\n",
                "apiVersion: apiserver.config.k8s.io/v1",
                "kind: EncryptionConfiguration",
                "resources: [{resources: [secrets], providers: [{identity: {}}]}]",
                ""));
    CliRun run =
        CliRun.of(
            "serve",
            "--encryption-provider-config",
            config.toString(),
            "--listen-addr",
            "127.0.0.1:0",
            "--advertise-client-urls",
            "https://0.0.0.0:23790");
    assertEquals(2, run.exitCode(), run.toString());
    assertTrue(run.err().isEmpty() || !run.err().contains("Exception"), run.toString());
  }
}
