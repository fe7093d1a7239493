package io.etcdcrypt.testing;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * JUnit 5 extension that runs one real etcd process for a test class: {@code @RegisterExtension
 * static final EtcdExtension etcd = new EtcdExtension();}
 */
public final class EtcdExtension implements BeforeAllCallback, AfterAllCallback {

  private final String[] extraArgs;
  private EtcdProcess process;

  public EtcdExtension(String... extraArgs) {
    this.extraArgs = extraArgs;
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    process = EtcdProcess.startSingle(extraArgs);
  }

  @Override
  public void afterAll(ExtensionContext context) {
    if (process != null) {
      process.close();
    }
  }

  public EtcdProcess process() {
    return process;
  }

  public String endpoint() {
    return process.endpoint();
  }
}
