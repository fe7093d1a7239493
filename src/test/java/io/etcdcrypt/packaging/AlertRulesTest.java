package io.etcdcrypt.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.testing.Command;
import io.etcdcrypt.testing.PrometheusServer;
import io.etcdcrypt.testing.RealComponents;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * The shipped alert rules with Debian's {@code promtool}: {@code check rules} accepts them, and
 * {@code test rules} runs the unit tests of deploy/prometheus/, which must hold, for every alert, a
 * case where it fires and one where it stays silent. Every alert has a runbook in the operations
 * guide.
 */
@RealComponents
class AlertRulesTest {

  static final Path RULES =
      Path.of("charts", "etcd-crypt-proxy", "alerts", "etcd-crypt-proxy.rules.yaml")
          .toAbsolutePath();
  static final Path RULE_TESTS =
      Path.of("deploy", "prometheus", "etcd-crypt-proxy.rules.test.yaml").toAbsolutePath();
  private static final Path OPERATIONS = Path.of("docs", "operations.md").toAbsolutePath();
  private static final Duration PROMTOOL_LIMIT = Duration.ofSeconds(60);

  @Test
  void promtoolChecksTheShippedRules() {
    Command.Result r = promtool("check", "rules", RULES.toString()).assertOk();
    assertTrue(r.stdout().contains("SUCCESS: " + rules(RULES).size() + " rules found"), r.stdout());
  }

  @Test
  void promtoolUnitTestsOfEveryAlertPass() {
    Command.Result r = promtool("test", "rules", RULE_TESTS.toString()).assertOk();
    assertTrue(r.stdout().contains("SUCCESS"), r.stdout());
  }

  @Test
  void everyAlertHasAUnitTestWhereItFiresAndOneWhereItStaysSilent() {
    Set<String> fires = new TreeSet<>();
    Set<String> silent = new TreeSet<>();
    for (Object test : list(load(RULE_TESTS).get("tests"))) {
      for (Object evaluation : list(map(test).get("alert_rule_test"))) {
        Map<String, Object> e = map(evaluation);
        String alert = (String) e.get("alertname");
        (list(e.get("exp_alerts")).isEmpty() ? silent : fires).add(alert);
      }
    }
    Set<String> alerts = alertNames();
    assertEquals(alerts, fires, "alerts with a unit test where they fire");
    assertEquals(alerts, silent, "alerts with a unit test where they stay silent");
  }

  @Test
  void everyAlertLinksARunbookInTheOperationsGuide() throws IOException {
    Set<String> anchors = new TreeSet<>();
    for (String line : Files.readAllLines(OPERATIONS, StandardCharsets.UTF_8)) {
      if (line.startsWith("### ")) {
        anchors.add("docs/operations.md#" + line.substring(4).trim().toLowerCase(Locale.ROOT));
      }
    }
    for (Map<String, Object> rule : rules(RULES)) {
      String runbook = (String) map(rule.get("annotations")).get("runbook");
      assertTrue(
          anchors.contains(runbook),
          rule.get("alert") + ": its runbook " + runbook + " is no heading of docs/operations.md");
      assertTrue(
          anchors.contains("docs/operations.md#" + rule.get("alert").toString().toLowerCase()),
          rule.get("alert") + " has no runbook section of its own name in docs/operations.md");
    }
  }

  /** The unit tests are no formality: an alert that cannot fire makes them fail, naming it. */
  @Test
  void theUnitTestsFailWhenAnAlertNoLongerFires(@TempDir Path dir) throws IOException {
    Path rules = dir.resolve(RULES.getFileName());
    Files.writeString(
        rules,
        Files.readString(RULES)
            .replace(
                "expr: etcd_crypt_proxy_kms_provider_healthy == 0",
                "expr: etcd_crypt_proxy_kms_provider_healthy == 2"));
    Path tests = dir.resolve(RULE_TESTS.getFileName());
    Files.writeString(
        tests, Files.readString(RULE_TESTS).replace("../../charts/etcd-crypt-proxy/alerts/", ""));

    Command.Result r = promtool("test", "rules", tests.toString());
    String output = r.stdout() + r.stderr();
    assertNotEquals(0, r.exitCode(), output);
    assertTrue(output.contains("alertname: KmsPluginUnhealthy"), output);
  }

  /** The alert names of the rules file, each once (an alert may have a rule per severity). */
  static Set<String> alertNames() {
    Set<String> names = new TreeSet<>();
    rules(RULES).forEach(r -> names.add((String) r.get("alert")));
    return names;
  }

  /** Every rule of every group of a rules file. */
  static List<Map<String, Object>> rules(Path file) {
    List<Map<String, Object>> rules = new ArrayList<>();
    for (Object group : list(load(file).get("groups"))) {
      list(map(group).get("rules")).forEach(r -> rules.add(map(r)));
    }
    return rules;
  }

  private static Command.Result promtool(String... args) {
    List<String> command = new ArrayList<>(List.of(PrometheusServer.binary("promtool")));
    command.addAll(List.of(args));
    return Command.run(PROMTOOL_LIMIT, command);
  }

  static Map<String, Object> load(Path file) {
    try {
      return map(
          new Load(LoadSettings.builder().build())
              .loadFromString(Files.readString(file, StandardCharsets.UTF_8)));
    } catch (IOException e) {
      throw new AssertionError("cannot read " + file + ": " + e, e);
    }
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> map(Object o) {
    return (Map<String, Object>) o;
  }

  @SuppressWarnings("unchecked")
  static List<Object> list(Object o) {
    return o == null ? List.of() : (List<Object>) o;
  }
}
