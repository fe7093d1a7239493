package io.etcdcrypt.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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

  private static final String RUNTIME = "eclipse-temurin:25-jre";

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
    // The jar is built for Java 17 (maven.compiler.release) and runs on the JDK the measurements
    // chose.
    assertEquals(List.of("FROM maven:3-eclipse-temurin-17 AS build", "FROM " + RUNTIME), from);
  }

  /**
   * The image trains its AOT cache with the warm-up and starts from it; the cache is the JVM's (JDK
   * 25's -XX:AOTCache) and WarmUpBeforeServingTest runs this very recipe.
   */
  @Test
  void runtimeTrainsAnAotCacheWithTheWarmUpAndStartsFromIt() throws Exception {
    List<String> lines = instructions();
    List<String> runtime = lines.subList(lines.indexOf("FROM " + RUNTIME), lines.size());
    String training =
        runtime.stream().filter(l -> l.contains("-XX:AOTCacheOutput=")).findFirst().orElseThrow();
    assertTrue(
        training.startsWith(
            "RUN java -XX:AOTCacheOutput=/app/etcd-crypt-proxy.aot @/app/jvm.options -jar"
                + " /app/etcd-crypt-proxy.jar warm-up "),
        training);
    assertTrue(
        runtime.indexOf(training) > runtime.indexOf("COPY jvm.options /app/jvm.options"),
        "trained with the options it runs with");
    String entrypoint =
        runtime.stream().filter(l -> l.startsWith("ENTRYPOINT ")).findFirst().orElseThrow();
    assertTrue(entrypoint.contains("\"-XX:AOTCache=/app/etcd-crypt-proxy.aot\""), entrypoint);
    assertTrue(
        runtime.indexOf(training)
            < runtime.indexOf(
                runtime.stream().filter(l -> l.startsWith("USER ")).findFirst().orElseThrow()),
        "trained before the image drops root, so /app stays read-only to the proxy");
  }

  @Test
  void runtimeStageRunsTheShadedJarAsANumericNonRootUser() throws Exception {
    List<String> lines = instructions();
    List<String> runtime = lines.subList(lines.indexOf("FROM " + RUNTIME), lines.size());

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
  void buildContextHoldsOnlyThePomMainSourcesAndJvmOptions() throws Exception {
    assertEquals(List.of("*", "!pom.xml", "!src/main", "!jvm.options"), dockerignore());
  }

  /** A COPY of a file the build context leaves out fails the image build ("not found"). */
  @Test
  void everyFileTheBuildCopiesIsInTheBuildContext() throws Exception {
    List<String> included =
        dockerignore().stream().filter(l -> l.startsWith("!")).map(l -> l.substring(1)).toList();
    List<String> copies =
        instructions().stream()
            .filter(l -> l.startsWith("COPY ") && !l.startsWith("COPY --from="))
            .toList();
    assertFalse(copies.isEmpty());
    for (String copy : copies) {
      String[] words = copy.split("\\s+");
      for (String source : List.of(words).subList(1, words.length - 1)) {
        String path = source.replaceAll("/+$", "").replaceFirst("^\\./", "");
        assertTrue(
            included.stream()
                .anyMatch(
                    i -> path.equals(i) || path.startsWith(i + "/") || i.startsWith(path + "/")),
            copy + ": " + path + " is not in the build context (.dockerignore: " + included + ")");
        assertTrue(Files.exists(Path.of(path)), copy + ": " + path + " does not exist");
      }
    }
  }

  private static List<String> dockerignore() throws Exception {
    return Files.readAllLines(Path.of(".dockerignore")).stream()
        .map(String::strip)
        .filter(l -> !l.isEmpty() && !l.startsWith("#"))
        .toList();
  }
}
