package io.etcdcrypt.testing;

import io.etcd.jetcd.Client;
import io.etcdcrypt.crypto.ValueCodec;
import io.grpc.ManagedChannel;
import java.util.function.Supplier;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * JUnit 5 extension: an in-process proxy in front of the class's {@link EtcdExtension}, with
 * plaintext channels to the proxy and straight to etcd ({@link Channels}) and a jetcd client of the
 * proxy, shared by the class's tests:
 *
 * <pre>{@code
 * @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();
 * @RegisterExtension static final ProxyExtension proxy = new ProxyExtension(etcd, codec);
 * }</pre>
 *
 * Each part starts on first use and all close after all tests. On first use, not before all: JUnit
 * does not promise which extension field runs first (etcd has started by the time a
 * {@code @BeforeAll} method or a test runs), and the codec may need what the class's
 * {@code @BeforeAll} methods or other extensions start, such as a KMS plugin.
 */
public final class ProxyExtension implements AfterAllCallback {

  private final EtcdExtension etcd;
  private final Supplier<? extends ValueCodec> codec;
  private int maxInboundMessageSize = Channels.DEFAULT_MAX_INBOUND_MESSAGE_SIZE;
  private ProxyFixture proxy;
  private ManagedChannel toProxy;
  private ManagedChannel toEtcd;
  private Client client;

  public ProxyExtension(EtcdExtension etcd, ValueCodec codec) {
    this(etcd, () -> codec);
  }

  /** A proxy whose codec {@code codec} makes when the proxy starts. */
  public ProxyExtension(EtcdExtension etcd, Supplier<? extends ValueCodec> codec) {
    this.etcd = etcd;
    this.codec = codec;
  }

  /** Channels that take responses of up to {@code bytes} instead of gRPC's default 4 MiB. */
  public ProxyExtension withMaxInboundMessageSize(int bytes) {
    this.maxInboundMessageSize = bytes;
    return this;
  }

  /** The running proxy. */
  public synchronized ProxyFixture fixture() {
    if (proxy == null) {
      proxy = ProxyFixture.start(codec.get(), etcd.endpoint());
    }
    return proxy;
  }

  /** {@code 127.0.0.1:port} of the proxy. */
  public String endpoint() {
    return fixture().endpoint();
  }

  /** A channel to the proxy. */
  public synchronized ManagedChannel toProxy() {
    if (toProxy == null) {
      toProxy = Channels.plaintext(endpoint(), maxInboundMessageSize);
    }
    return toProxy;
  }

  /** A channel straight to etcd, past the proxy: what is stored. */
  public synchronized ManagedChannel toEtcd() {
    if (toEtcd == null) {
      toEtcd = Channels.plaintext(etcd.endpoint(), maxInboundMessageSize);
    }
    return toEtcd;
  }

  /**
   * The jetcd client of the proxy that the class's tests share; closed after all, never by a test.
   */
  public synchronized Client client() {
    if (client == null) {
      client = fixture().client();
    }
    return client;
  }

  /**
   * A jetcd client of the proxy of the caller's own (its own Watch stream, say); the caller closes
   * it.
   */
  public Client newClient() {
    return fixture().client();
  }

  @Override
  public synchronized void afterAll(ExtensionContext context) {
    if (client != null) {
      client.close();
    }
    if (toProxy != null) {
      toProxy.shutdownNow();
    }
    if (toEtcd != null) {
      toEtcd.shutdownNow();
    }
    if (proxy != null) {
      proxy.close();
    }
    client = null;
    toProxy = null;
    toEtcd = null;
    proxy = null;
  }
}
