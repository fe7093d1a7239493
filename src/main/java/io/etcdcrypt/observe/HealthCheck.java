package io.etcdcrypt.observe;

import java.util.Optional;

/**
 * One named readiness check, as kube-apiserver names them ({@code etcd}, {@code kms-providers},
 * ...). A check returns empty when healthy, else the reason an operator reads at {@code
 * /readyz?verbose}.
 */
public interface HealthCheck {

  String name();

  Optional<String> check();

  static HealthCheck of(String name, java.util.function.Supplier<Optional<String>> check) {
    return new HealthCheck() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public Optional<String> check() {
        return check.get();
      }
    };
  }
}
