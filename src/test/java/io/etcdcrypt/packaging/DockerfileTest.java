package io.etcdcrypt.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The Dockerfile cannot be built here (no Docker engine), so these read it: two stages, the runtime
 * as a fixed non-root user, and the jar the Maven build really produces as the entry point.
 */
class DockerfileTest {

  private static List<String> instructions() throws Exception {
    // Instructions only: comments dropped and continuation lines joined.
    String joined = Files.readString(Path.of("Dockerfile")).replaceAll("\\\\\\n", " ");
    return joined
        .lines()
        .map(String::strip)
        .filter(l -> !l.isEmpty() && !l.startsWith("#"))
        .toList();
  }

  @Test
  void buildsWithMavenThenRunsOnAJre() throws Exception {
    List<String> from = instructions().stream().filter(l -> l.startsWith("FROM ")).toList();
    assertEquals(
        List.of("FROM maven:3-eclipse-temurin-17 AS build", "FROM eclipse-temurin:17-jre"), from);
  }

  @Test
  void runtimeStageRunsTheShadedJarAsANumericNonRootUser() throws Exception {
    List<String> lines = instructions();
    List<String> runtime =
        lines.subList(lines.indexOf("FROM eclipse-temurin:17-jre"), lines.size());

    String user =
        runtime.stream().filter(l -> l.startsWith("USER ")).reduce((a, b) -> b).orElseThrow();
    String uid = user.substring("USER ".length()).split(":")[0];
    assertTrue(
        uid.matches("[0-9]+"), "numeric, so that Kubernetes' runAsNonRoot can verify it: " + user);
    assertNotEquals("0", uid);
    assertEquals("65532", uid, "the Helm chart's runAsUser");

    String entrypoint =
        runtime.stream().filter(l -> l.startsWith("ENTRYPOINT ")).findFirst().orElseThrow();
    assertTrue(
        entrypoint.startsWith("ENTRYPOINT [\"java\"")
            && entrypoint.endsWith("\"-jar\", \"/app/etcd-crypt-proxy.jar\"]"),
        entrypoint);
    assertTrue(
        runtime.contains(
            "COPY --from=build /src/target/etcd-crypt-proxy.jar /app/etcd-crypt-proxy.jar"));
    // The JVM's memory areas come from jvm.options, the file MemoryUnderAttackTest runs the proxy
    // with, not from JVM ergonomics on the node.
    assertTrue(runtime.contains("COPY jvm.options /app/jvm.options"), "the image has jvm.options");
    assertTrue(entrypoint.contains("\"@/app/jvm.options\""), entrypoint);
    List<String> options =
        Files.readAllLines(Path.of("jvm.options")).stream()
            .filter(l -> !l.isBlank() && !l.startsWith("#"))
            .toList();
    for (String area : List.of("-Xmx", "-XX:MaxDirectMemorySize=", "-XX:MaxMetaspaceSize=")) {
      assertTrue(options.stream().anyMatch(o -> o.startsWith(area)), area + " in " + options);
    }
    // The jar name is the shade plugin's finalName.
    assertTrue(
        Files.readString(Path.of("pom.xml")).contains("<finalName>etcd-crypt-proxy</finalName>"));
  }

  @Test
  void buildContextHoldsOnlyThePomAndMainSources() throws Exception {
    List<String> ignore =
        Files.readAllLines(Path.of(".dockerignore")).stream()
            .map(String::strip)
            .filter(l -> !l.isEmpty() && !l.startsWith("#"))
            .toList();
    assertEquals(List.of("*", "!pom.xml", "!src/main"), ignore);
  }
}
