package io.etcdcrypt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import picocli.CommandLine;

class CheckConfigCommandTest {

  private static final String KEY16 = "P3fqRREKNdXNRpKj2cvsBA==";
  private static final String KEY32 = "DoKJyPzloQdKfNdybeAfpdMzYIWxYHepxH7XbvX8xFw=";
  private static final String HEADER =
      "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n";

  @TempDir Path dir;

  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  private int run(String... args) {
    CommandLine cl = Main.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    return cl.execute(args);
  }

  private Path write(String yaml) throws Exception {
    Path file = dir.resolve("enc.yaml");
    Files.writeString(file, yaml);
    return file;
  }

  @Test
  void validConfigPrintsOneLinePerRuleAndExitsZero() throws Exception {
    Path file =
        write(
            HEADER
                + "resources:\n"
                + "- resources: [secrets, configmaps]\n"
                + "  providers:\n"
                + "  - aesgcm: {keys: [{name: key1, secret: '"
                + KEY16
                + "'}, {name: key2, secret: '"
                + KEY32
                + "'}]}\n"
                + "  - identity: {}\n"
                + "- resources: ['*.apps']\n"
                + "  providers:\n"
                + "  - kms: {apiVersion: v2, name: vault, endpoint: 'unix:///@kms', timeout: 1m30s}\n"
                + "  - kms: {name: legacy, endpoint: 'unix:///run/kms.sock', cachesize: -1}\n"
                + "  - secretbox: {keys: [{name: box, secret: '"
                + KEY32
                + "'}]}\n"
                + "  - aescbc: {keys: [{name: cbc, secret: '"
                + KEY16
                + "'}]}\n");

    assertEquals(0, run("check-config", file.toString()), err::toString);

    assertEquals(
        String.join(
            System.lineSeparator(),
            "secrets,configmaps: aesgcm(keys: key1,key2) -> identity",
            "*.apps: kms(apiVersion: v2, name: vault, endpoint: unix:///@kms, timeout: 1m30s)"
                + " -> kms(apiVersion: v1, name: legacy, endpoint: unix:///run/kms.sock, cachesize: -1, timeout: 3s)"
                + " -> secretbox(keys: box) -> aescbc(keys: cbc)",
            ""),
        out.toString());
    assertEquals(
        "warning: resources[1].providers[1].kms.apiVersion: KMS v1 (apiVersion v1, or apiVersion"
            + " left out) is deprecated since Kubernetes 1.28: kube-apiserver 1.29 and later refuses"
            + " this file unless started with --feature-gates=KMSv1=true, so switching back to"
            + " kube-apiserver's own encryption would need that gate; use apiVersion: v2 with a KMS"
            + " v2 plugin (kms-plugin serves both)"
            + System.lineSeparator(),
        err.toString(),
        "KMS v1, even with apiVersion left out, is warned about");
    assertFalse(out.toString().contains(KEY16) || out.toString().contains(KEY32));
  }

  @Test
  void invalidConfigPrintsEveryErrorToStderrAndExitsOne() throws Exception {
    Path file =
        write(
            HEADER
                + "resources:\n"
                + "- resources: [Secrets]\n"
                + "  providers:\n"
                + "  - aesgcm: {keys: [{name: k, secret: 'c2VjcmV0IGlzIHNlY3VyZSBmb28='}]}\n"
                + "- resources: ['*.*']\n  providers: [{identity: {}}]\n"
                + "- resources: [pods]\n  providers: [{identity: {}}]\n");

    assertEquals(1, run("check-config", file.toString()));

    assertEquals("", out.toString());
    String stderr = err.toString();
    assertTrue(stderr.contains(file.toString()), stderr);
    assertTrue(
        stderr.contains(
            "resources[0].resources[0]: \"Secrets\": resource names must not contain capital"),
        stderr);
    assertTrue(
        stderr.contains(
            "resources[0].providers[0].aesgcm.keys[0].secret: secret must be base64 of 16, 24 or"
                + " 32 bytes, got 20 bytes"),
        stderr);
    assertTrue(
        stderr.contains(
            "resources[2].resources[0]: resource \"pods\" is masked by earlier rule \"*.*\""),
        stderr);
    assertFalse(stderr.contains("c2VjcmV0IGlzIHNlY3VyZSBmb28="), stderr);
  }

  @Test
  void warningsGoToStderrWithoutFailing() throws Exception {
    Path file =
        write(HEADER + "resources:\n- resources: [secret]\n  providers: [{identity: {}}]\n");
    assertEquals(0, run("check-config", file.toString()));
    assertEquals("secret: identity" + System.lineSeparator(), out.toString());
    assertTrue(err.toString().startsWith("warning: resources[0].resources[0]: "), err.toString());
  }

  private Path rule(String name, String... keys) throws Exception {
    StringBuilder list = new StringBuilder();
    for (String k : keys) {
      list.append(list.length() == 0 ? "" : ", ")
          .append("{name: ")
          .append(k)
          .append(", secret: '")
          .append(k.equals("key1") ? KEY16 : KEY32)
          .append("'}");
    }
    Path file = dir.resolve(name + ".yaml");
    Files.writeString(
        file,
        HEADER
            + "resources:\n- resources: [secrets]\n  providers:\n  - aesgcm: {keys: ["
            + list
            + "]}\n");
    return file;
  }

  private String checkAgainst(Path previous, Path next) {
    out.getBuffer().setLength(0);
    err.getBuffer().setLength(0);
    assertEquals(
        0, run("check-config", "--previous", previous.toString(), next.toString()), err::toString);
    return err.toString();
  }

  @Test
  void theSafeTwoStepRotationPassesClean() throws Exception {
    Path old = rule("old", "key1");
    Path second = rule("second", "key1", "key2");
    Path first = rule("first", "key2", "key1");
    Path done = rule("done", "key2");
    assertEquals("", checkAgainst(old, second), "step 1: the new key second");
    assertEquals("", checkAgainst(second, first), "step 2: then first");
    assertEquals("", checkAgainst(first, done), "after rewrap: the old key goes");
  }

  @Test
  void aNewKeyPutFirstInOneStepIsWarnedAbout() throws Exception {
    String warning = checkAgainst(rule("old", "key1"), rule("first", "key2", "key1"));
    assertEquals(
        "warning: against --previous "
            + dir.resolve("old.yaml")
            + ": secrets: this file writes with aesgcm key key2, which the previous file cannot"
            + " read: nodes still on it could not read what nodes on this file write. Roll out a"
            + " file that lists it second first, then move it first"
            + System.lineSeparator(),
        warning);
    assertFalse(warning.contains(KEY16) || warning.contains(KEY32), warning);
  }

  @Test
  void droppingTheKeyThePreviousFileWroteWithIsWarnedAbout() throws Exception {
    String warning = checkAgainst(rule("first", "key2", "key1"), rule("wrong", "key1"));
    assertTrue(
        warning.contains(
            "secrets: the previous file wrote with aesgcm key key2, which this file cannot read:"
                + " the values it wrote would become unreadable. Keep it (after the new one) until"
                + " rewrap has run and census shows no value uses it"),
        warning);
    // a key of the same name with another secret cannot read either
    Path renamedSecret =
        Files.writeString(
            dir.resolve("other-secret.yaml"),
            Files.readString(rule("x", "key2")).replace(KEY32, KEY16));
    assertTrue(
        checkAgainst(rule("first", "key2", "key1"), renamedSecret)
            .contains("the previous file wrote with aesgcm key key2, which this file cannot read"));
  }

  @Test
  void automaticReloadMakesV1NamesUnique() throws Exception {
    Path file =
        write(
            HEADER
                + "resources:\n- resources: [secrets]\n  providers:\n"
                + "  - kms: {name: k, endpoint: 'unix:///a'}\n  - kms: {name: k, endpoint: 'unix:///b'}\n");
    assertEquals(0, run("check-config", file.toString()));
    assertEquals(1, run("check-config", "--automatic-reload", file.toString()));
    assertTrue(
        err.toString().contains("resources[0].providers[1].kms.name: duplicate KMS provider name"),
        err.toString());
  }

  @Test
  void missingFileExitsOne() {
    assertEquals(1, run("check-config", dir.resolve("absent.yaml").toString()));
    assertTrue(err.toString().contains("does not exist"), err.toString());
  }

  @Test
  void usageErrorsExitTwo() {
    assertEquals(2, run("check-config"));
    assertTrue(err.toString().contains("FILE"), err.toString());
  }

  @Test
  void helpDescribesEveryOptionAndParameter() {
    assertEquals(0, run("check-config", "--help"));
    String help = out.toString();
    assertTrue(help.contains("FILE") && help.contains("--encryption-provider-config"), help);
    assertTrue(help.contains("--automatic-reload") && help.contains("KMS v1 provider names"), help);
    assertTrue(help.contains("Exit codes"), help);
  }

  @ParameterizedTest
  @CsvSource({"3s, 3", "1m30s, 90", "1h0m0s, 3600", "1h1m1s, 3661"})
  void durationsArePrintedInGoSyntax(String expected, long seconds) {
    assertEquals(expected, CheckConfigCommand.goDuration(Duration.ofSeconds(seconds)));
  }

  @Test
  void subSecondDurationsArePrintedInGoSyntax() {
    assertEquals("500ms", CheckConfigCommand.goDuration(Duration.ofMillis(500)));
    assertEquals("1.5s", CheckConfigCommand.goDuration(Duration.ofMillis(1500)));
    assertEquals("250us", CheckConfigCommand.goDuration(Duration.ofNanos(250_000)));
  }
}
