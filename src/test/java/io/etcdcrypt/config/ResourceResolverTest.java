package io.etcdcrypt.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

class ResourceResolverTest {

  private final ResourceResolver resolver = ResourceResolver.withDefaultPrefix();

  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private Optional<GroupResource> resolve(String key) {
    return resolver.resolve(b(key));
  }

  /**
   * Rows of encryption-format.md §6: config name, scope, key with {@code <ns>} and {@code <name>}
   * placeholders.
   */
  static Stream<Arguments> section6Table() {
    String csv = new String(TestConfigs.resource("resource-key-table.csv"), StandardCharsets.UTF_8);
    return csv.lines()
        .filter(l -> !l.startsWith("#") && !l.isBlank())
        .map(
            l -> {
              String[] cells = l.split(",");
              return Arguments.of(cells[0], cells[1], cells[2]);
            });
  }

  @ParameterizedTest(name = "{0}: {2}")
  @MethodSource("section6Table")
  void everyRowOfTheTableResolvesToItsConfigName(
      String configName, String scope, String keyPattern) {
    GroupResource expected = GroupResource.parse(configName);
    String key =
        keyPattern.replace("<ns>", "kube-system").replace("<name>", "obj-1.example:with.dots");
    assertEquals(Optional.of(expected), resolve(key));
    assertEquals(scope.equals("ns") ? 1 : 0, keyPattern.split("<ns>", -1).length - 1);
  }

  @Test
  void theTableHasEveryRowOfSection6() {
    assertEquals(67, section6Table().count());
  }

  @Test
  void keysOfTheSharedFormatVectorsResolve() throws Exception {
    Path vectors = io.etcdcrypt.testing.FormatVectors.file();
    Map<?, ?> doc =
        (Map<?, ?>)
            new Load(LoadSettings.builder().build()).loadFromString(Files.readString(vectors));
    int checked = 0;
    for (Object v : (List<?>) doc.get("vectors")) {
      String key = (String) ((Map<?, ?>) v).get("etcd_key");
      if (key.startsWith("/registry/secrets/")) {
        assertEquals(Optional.of(GroupResource.parse("secrets")), resolve(key), key);
        checked++;
      } else {
        assertEquals(
            Optional.empty(), resolve(key), key); // upstream unit-test keys such as "bamboo"
      }
    }
    assertTrue(checked > 0);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("section6Table")
  void keyPrefixesForEveryRowMatchTheTable(String configName, String scope, String keyPattern) {
    String prefix = keyPattern.substring(0, keyPattern.indexOf('<'));
    assertTrue(
        resolver.keyPrefixesFor(GroupResource.parse(configName)).contains(prefix),
        () -> resolver.keyPrefixesFor(GroupResource.parse(configName)) + " lacks " + prefix);
  }

  @Test
  void everyKnownResourceResolvesBackFromEachOfItsPrefixes() {
    for (GroupResource gr : resolver.knownResources()) {
      List<String> prefixes = resolver.keyPrefixesFor(gr);
      assertTrue(!prefixes.isEmpty(), gr::toString);
      for (String prefix : prefixes) {
        assertTrue(prefix.endsWith("/"), prefix);
        assertEquals(Optional.of(gr), resolve(prefix + "ns/name"), prefix);
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
    "/registry/example.com/widgets/ns1/w1, example.com, widgets",
    "/registry/example.com/widgets/cluster-scoped, example.com, widgets",
    "/registry/awesome.bears.example/pandas/ns/p, awesome.bears.example, pandas",
    "/registry/apiregistration.k8s.io/apiservices/v1.apps, apiregistration.k8s.io, apiservices",
    "/registry/apiextensions.k8s.io/customresourcedefinitions/widgets.example.com, apiextensions.k8s.io,"
        + " customresourcedefinitions",
    "/registry/metrics.k8s.io/nodes/n1, metrics.k8s.io, nodes",
  })
  void groupsWithADotUseTheGroupResourceLayout(String key, String group, String resource) {
    GroupResource gr = new GroupResource(group, resource);
    assertEquals(Optional.of(gr), resolve(key));
    assertEquals(List.of("/registry/" + group + "/" + resource + "/"), resolver.keyPrefixesFor(gr));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
    "/registry/podsecuritypolicy/restricted, policy, podsecuritypolicies",
    "/registry/clustercidrs/c1, networking.k8s.io, clustercidrs",
    "/registry/podschedulingcontexts/ns/p, resource.k8s.io, podschedulingcontexts",
  })
  void removedBuiltInsStillResolveForOldData(String key, String group, String resource) {
    assertEquals(Optional.of(new GroupResource(group, resource)), resolve(key));
  }

  @Test
  void servicesPrefixIsTheSpecsPathOnly() {
    assertEquals(
        List.of("/registry/services/specs/"),
        resolver.keyPrefixesFor(GroupResource.parse("services")));
    assertEquals(
        List.of("/registry/services/endpoints/"),
        resolver.keyPrefixesFor(GroupResource.parse("endpoints")));
  }

  /**
   * kube-apiserver writes these through its raw storage factory, without a transformer: they are
   * plaintext whatever the configuration says, and the unknown-segment rule must not turn them into
   * core resources.
   */
  @ParameterizedTest
  @ValueSource(
      strings = {
        "/registry/ranges/serviceips",
        "/registry/ranges/secondaryserviceips",
        "/registry/ranges/servicenodeports",
        "/registry/masterleases/10.0.0.1",
        "/registry/peerserverleases/kube-apiserver-abc",
        "/registry/health",
        "/registry/health/x",
      })
  void rawStorageKeysNeverResolve(String key) {
    assertEquals(Optional.empty(), resolve(key));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "compact_rev_key",
        "/registry",
        "/registry/",
        "/registry/health",
        "/registry/secrets",
        "/registry/secrets/",
        "/registry/services",
        "/registry/services/",
        "/registry/services/specs",
        "/registry/services/specs/",
        "/registry/services/other/ns/x",
        "/registry/services/endpoints/",
        "/registry/services/endpoints",
        "/registry/example.com/widgets",
        "/registry/example.com/widgets/",
        "/registry/example.com/",
        "/registry/example.com//x",
        "/registry//secrets/x",
        "/registrysecrets/ns/x",
        "/other/secrets/ns/x",
        "registry/secrets/ns/x",
        "/REGISTRY/secrets/ns/x",
        "/registry/foo",
        "/registry/foo/",
        "",
      })
  void keysThatAreNotObjectsDoNotResolve(String key) {
    assertEquals(Optional.empty(), resolve(key));
  }

  @Test
  void unknownBuiltInSegmentsAreAttributedToTheCoreGroup() {
    GroupResource gr = new GroupResource("", "frobnicators");
    assertEquals(Optional.of(gr), resolve("/registry/frobnicators/ns/f"));
    assertEquals(List.of("/registry/frobnicators/"), resolver.keyPrefixesFor(gr));
  }

  @Test
  void keyPrefixesWhereNoKeyResolves() {
    // A non-core built-in group: kube-apiserver would store it group-less, somewhere this table
    // does not know.
    assertEquals(List.of(), resolver.keyPrefixesFor(GroupResource.parse("foos.apps")));
    // A core name whose path belongs to another resource.
    assertEquals(List.of(), resolver.keyPrefixesFor(GroupResource.parse("minions")));
    assertEquals(List.of(), resolver.keyPrefixesFor(GroupResource.parse("ranges")));
    assertEquals(List.of(), resolver.keyPrefixesFor(GroupResource.parse("masterleases")));
    assertEquals(
        List.of("/registry/minions/"), resolver.keyPrefixesFor(GroupResource.parse("nodes")));
  }

  @ParameterizedTest
  @ValueSource(strings = {"*.", "*.*", "*.apps", "secrets.*"})
  void wildcardsHaveNoKeyPrefix(String wildcard) {
    assertThrows(
        IllegalArgumentException.class,
        () -> resolver.keyPrefixesFor(GroupResource.parse(wildcard)));
  }

  @ParameterizedTest(name = "''{0}'' -> {1}")
  @CsvSource({
    "/registry, /registry/",
    "registry, /registry/",
    "/registry/, /registry/",
    "//registry//, /registry/",
    "/a/./b/../c, /a/c/",
    "/.., /",
    "'', /",
    "/, /",
    "/custom, /custom/",
    "/tenants/t1/registry, /tenants/t1/registry/",
  })
  void prefixIsNormalisedLikePathJoin(String raw, String normalised) {
    assertEquals(normalised, ResourceResolver.normalisePrefix(raw));
    assertEquals(normalised, new ResourceResolver(raw).prefix());
  }

  @Test
  void customPrefix() {
    ResourceResolver custom = new ResourceResolver("/custom");
    assertEquals(
        Optional.of(GroupResource.parse("secrets")), custom.resolve(b("/custom/secrets/ns/s")));
    assertEquals(Optional.of(GroupResource.parse("nodes")), custom.resolve(b("/custom/minions/n")));
    assertEquals(Optional.empty(), custom.resolve(b("/registry/secrets/ns/s")));
    assertEquals(Optional.empty(), custom.resolve(b("/custom/health")));
    assertEquals(
        List.of("/custom/secrets/"), custom.keyPrefixesFor(GroupResource.parse("secrets")));
    assertEquals(
        List.of("/custom/example.com/widgets/"),
        custom.keyPrefixesFor(GroupResource.parse("widgets.example.com")));
  }

  @Test
  void prefixWithoutLeadingSlash() {
    ResourceResolver r = new ResourceResolver("registry");
    assertEquals(
        Optional.of(GroupResource.parse("deployments.apps")),
        r.resolve(b("/registry/deployments/ns/d")));
    assertEquals(Optional.empty(), r.resolve(b("registry/deployments/ns/d")));
  }

  @Test
  void rootPrefix() {
    ResourceResolver r = new ResourceResolver("/");
    assertEquals(Optional.of(GroupResource.parse("secrets")), r.resolve(b("/secrets/ns/s")));
    assertEquals(Optional.empty(), r.resolve(b("compact_rev_key")));
    assertEquals(Optional.empty(), r.resolve(b("/health")));
  }

  @Test
  void byteStringOverloadAgrees() {
    ByteString key = ByteString.copyFromUtf8("/registry/deployments/ns/x");
    assertEquals(Optional.of(GroupResource.parse("deployments.apps")), resolver.resolve(key));
    assertEquals(
        Optional.of(GroupResource.parse("widgets.example.com")),
        resolver.resolve(
            ByteString.copyFromUtf8("/registry/example.com/widgets/ns/w").substring(0)));
  }

  @Test
  void manyDistinctCustomResourcesResolveCorrectlyThroughTheCache() {
    // Far more distinct group-resources than cache slots, twice, so that entries collide and are
    // replaced.
    for (int round = 0; round < 2; round++) {
      for (int i = 0; i < 3000; i++) {
        String group = "g" + i + ".example.com";
        String resource = "r" + (i % 7);
        assertEquals(
            Optional.of(new GroupResource(group, resource)),
            resolve("/registry/" + group + "/" + resource + "/ns/name-" + i));
        assertEquals(
            Optional.of(new GroupResource("", "u" + i)), resolve("/registry/u" + i + "/x"));
      }
    }
  }
}
