package io.etcdcrypt.proxy;

import static io.etcdcrypt.testing.Clients.bs;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.etcd.jetcd.Client;
import io.etcdcrypt.crypto.NonBlockingThreads;
import io.etcdcrypt.crypto.ValueCodec;
import io.etcdcrypt.testing.Clients;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.ProxyFixture;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Transforms that would wait (as a KMS plugin call does) never run on the event loop: they move to the waiting pool,
 * and the call is relayed from there. A codec stands in for the KMS provider: for keys under {@code /waits/} it
 * asks {@link NonBlockingThreads} whether it may wait, exactly where a KMS provider would call its plugin.
 */
class WaitingPoolTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  /** Stores {@code w:<value>} for keys under /waits/, after the wait check; fails hard under /waits/broken/. */
  private static final class WaitingCodec implements ValueCodec {
    final Set<String> transformThreads = ConcurrentHashMap.newKeySet();

    @Override
    public boolean mayProtectRange(ByteString key, ByteString rangeEnd) {
      return true;
    }

    @Override
    public ByteString toStorage(ByteString key, ByteString value) {
      if (!waits(key)) {
        return value;
      }
      return ByteString.copyFromUtf8("w:").concat(value);
    }

    @Override
    public ByteString fromStorage(ByteString key, ByteString value) {
      if (!waits(key)) {
        return value;
      }
      if (key.toStringUtf8().startsWith("/waits/broken/")) {
        throw new AssertionError("a transform that breaks with an Error");
      }
      return value.substring(2);
    }

    private boolean waits(ByteString key) {
      if (!key.toStringUtf8().startsWith("/waits/")) {
        return false;
      }
      NonBlockingThreads.checkMayWait("a test plugin");
      transformThreads.add(Thread.currentThread().getName());
      return true;
    }
  }

  @Test
  void transformsThatWouldWaitRunOnTheWaitingPoolAndTheCallCompletes() throws Exception {
    WaitingCodec codec = new WaitingCodec();
    try (ProxyFixture proxy = ProxyFixture.start(codec, etcd.endpoint());
        Client c = proxy.client();
        Client raw = Clients.jetcd("http://" + etcd.endpoint())) {
      c.getKVClient().put(bs("/waits/ok/k"), bs("v")).get(10, TimeUnit.SECONDS);
      assertEquals("w:v", raw.getKVClient().get(bs("/waits/ok/k")).get(10, TimeUnit.SECONDS).getKvs().get(0)
          .getValue().toString(StandardCharsets.UTF_8));
      assertEquals("v", c.getKVClient().get(bs("/waits/ok/k")).get(10, TimeUnit.SECONDS).getKvs().get(0)
          .getValue().toString(StandardCharsets.UTF_8));
      assertTrue(codec.transformThreads.stream().allMatch(t -> t.startsWith("proxy-kms-wait")),
          codec.transformThreads::toString);
    }
  }

  @Test
  void anErrorOnTheWaitingPoolFailsTheCallInsteadOfLeavingItOpen() throws Exception {
    try (ProxyFixture proxy = ProxyFixture.start(new WaitingCodec(), etcd.endpoint());
        Client c = proxy.client();
        Client raw = Clients.jetcd("http://" + etcd.endpoint())) {
      raw.getKVClient().put(bs("/waits/broken/k"), bs("w:v")).get(10, TimeUnit.SECONDS);
      ExecutionException e = assertThrows(ExecutionException.class,
          () -> c.getKVClient().get(bs("/waits/broken/k")).get(10, TimeUnit.SECONDS));
      Status status = Status.fromThrowable(e.getCause());
      assertEquals(Status.Code.INTERNAL, status.getCode(), status.toString());
      assertTrue(status.getDescription().contains("transform failed"), status.getDescription());
      // The proxy goes on serving.
      c.getKVClient().put(bs("/waits/ok/after"), bs("x")).get(10, TimeUnit.SECONDS);
    }
  }
}
