package io.etcdcrypt.proxy;

import static io.etcdcrypt.testing.Clients.bs;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.etcd.jetcd.Client;
import io.etcd.jetcd.kv.GetResponse;
import io.etcdcrypt.crypto.ValueCodec;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.ProxyFixture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class PassThroughSmokeTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  @Test
  void putThenGetThroughTheProxy() throws Exception {
    try (ProxyFixture proxy = ProxyFixture.start(ValueCodec.IDENTITY, etcd.endpoint());
        Client client = proxy.client()) {
      client.getKVClient().put(bs("/smoke/a"), bs("v1")).get(10, TimeUnit.SECONDS);
      GetResponse r = client.getKVClient().get(bs("/smoke/a")).get(10, TimeUnit.SECONDS);
      assertEquals(1, r.getKvs().size());
      assertEquals("v1", r.getKvs().get(0).getValue().toString());
    }
  }
}
