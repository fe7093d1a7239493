package io.etcdcrypt;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The package structure the README describes, as rules the build checks: one concern per package,
 * and the dependencies point one way (cli → proxy/ops/observe → values → crypto/kms → config).
 */
class ArchitectureTest {

  private static JavaClasses main;

  @BeforeAll
  static void importMainClasses() {
    main =
        new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("io.etcdcrypt");
  }

  @Test
  void onlyTheCommandLineReachesTheBundledKmsPlugin() {
    noClasses()
        .that()
        .resideOutsideOfPackages("io.etcdcrypt.kmsplugin..", "io.etcdcrypt.cli..")
        .should()
        .dependOnClassesThat()
        .resideInAPackage("io.etcdcrypt.kmsplugin..")
        .because(
            "the bundled plugin is a separate program that shares the jar; the proxy talks to any plugin, "
                + "this one included, only through the KMS gRPC API")
        .check(main);
  }

  @Test
  void theSnapshotReaderKnowsOnlyEtcdsMessages() {
    noClasses()
        .that()
        .resideInAPackage("io.etcdcrypt.snapshot..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(
            "io.etcdcrypt.config..",
            "io.etcdcrypt.crypto..",
            "io.etcdcrypt.kms..",
            "io.etcdcrypt.values..",
            "io.etcdcrypt.proxy..",
            "io.etcdcrypt.ops..",
            "io.etcdcrypt.observe..",
            "io.etcdcrypt.cli..",
            "io.etcdcrypt.kmsplugin..")
        .because(
            "it reads a file's bytes as etcd wrote them; what they mean is ops.backup's business")
        .check(main);
  }

  @Test
  void configurationDependsOnNothingElseOfOurs() {
    noClasses()
        .that()
        .resideInAPackage("io.etcdcrypt.config..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(
            "io.etcdcrypt.crypto..",
            "io.etcdcrypt.kms..",
            "io.etcdcrypt.values..",
            "io.etcdcrypt.proxy..",
            "io.etcdcrypt.ops..",
            "io.etcdcrypt.observe..",
            "io.etcdcrypt.cli..",
            "io.etcdcrypt.kmsplugin..")
        .check(main);
  }

  @Test
  void theStateChangeLogDependsOnNothingElseOfOurs() {
    classes()
        .that()
        .resideInAPackage("io.etcdcrypt.log..")
        .should()
        .onlyDependOnClassesThat()
        .resideInAnyPackage("io.etcdcrypt.log..", "java..", "org.slf4j..")
        .because("kms, proxy and ops all log their dependencies' changes of state with it")
        .check(main);
  }

  @Test
  void cryptoAndKmsKnowNothingOfTheProxy() {
    noClasses()
        .that()
        .resideInAnyPackage("io.etcdcrypt.crypto..", "io.etcdcrypt.kms")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(
            "io.etcdcrypt.values..",
            "io.etcdcrypt.proxy..",
            "io.etcdcrypt.ops..",
            "io.etcdcrypt.observe..",
            "io.etcdcrypt.cli..")
        .because("providers are byte transformations, whoever calls them")
        .check(main);
  }

  @Test
  void cryptoKnowsNothingOfKmsOrGrpc() {
    noClasses()
        .that()
        .resideInAPackage("io.etcdcrypt.crypto..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("io.etcdcrypt.kms..", "io.grpc..")
        .check(main);
  }

  @Test
  void theMessageWalkKnowsNothingOfTheServer() {
    noClasses()
        .that()
        .resideInAPackage("io.etcdcrypt.values..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("io.etcdcrypt.proxy..", "io.etcdcrypt.ops..", "io.etcdcrypt.cli..")
        .check(main);
  }

  @Test
  void theWarmUpReachesNoKmsPluginAndOnlyTheCommandLineStartsIt() {
    noClasses()
        .that()
        .resideInAPackage("io.etcdcrypt.warmup..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("io.etcdcrypt.kms..", "io.etcdcrypt.ops..")
        .because(
            "it warms the request path on synthetic values and local keys, and contacts nothing")
        .check(main);
    noClasses()
        .that()
        .resideOutsideOfPackages("io.etcdcrypt.warmup..", "io.etcdcrypt.cli..")
        .should()
        .dependOnClassesThat()
        .resideInAPackage("io.etcdcrypt.warmup..")
        .check(main);
  }
}
