package io.etcdcrypt.testing;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;

/**
 * Marks a test class that runs real components: an etcd process ({@link EtcdExtension}, {@link
 * EtcdProcess}), a KMS plugin on a unix socket ({@link KmsPluginFixture}, {@link MockKmsPlugin}), a
 * child JVM ({@link JavaProcess}, {@link ProxyProcess}), a proxy on a loopback port ({@link
 * ProxyFixture}), kube-apiserver, etcdctl, python3-etcd3, SoftHSM2, helm (helm-java's native
 * library), docker-compose, Prometheus or promtool ({@link PrometheusServer}).
 *
 * <p>Surefire excludes the tag, so {@code mvn test} runs only the unit tests, which start nothing
 * and touch no network. Failsafe runs the tagged {@code *Test} classes in the {@code
 * integration-test} phase, after {@code package}, against the built jar (the {@code *IT} classes
 * run there whatever their tags). A class that starts any of the above, even in one of its tests,
 * carries this; {@link RealComponentsGuard} fails one that does not.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Documented
@Tag(RealComponents.TAG)
public @interface RealComponents {

  /**
   * The JUnit tag, named by surefire's {@code excludedGroups} and failsafe's {@code groups} in
   * pom.xml.
   */
  String TAG = "real-components";
}
