package io.etcdcrypt.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.crypto.ValueCodec;
import io.etcdcrypt.testing.Command;
import io.etcdcrypt.testing.EtcdProcess;
import io.etcdcrypt.testing.Etcdctl;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.TestPki;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The deployment kube-apiserver has: mutual TLS from the client to the proxy (client certificates
 * required) and from the proxy to etcd, with the same CA files a kubeadm cluster uses.
 */
@RealComponents
class TlsTest {

  @Test
  void mutualTlsOnBothSides(@TempDir Path dir) {
    TestPki pki = new TestPki(dir, "etcd-ca");
    TestPki.Leaf proxyServer = pki.issue("proxy-server");
    TestPki.Leaf proxyClient = pki.issue("proxy-client");
    TestPki.Leaf apiserver = pki.issue("apiserver-etcd-client");
    try (EtcdProcess etcd = EtcdProcess.startSingleTls(pki);
        ProxyFixture proxy =
            ProxyFixture.start(
                ValueCodec.IDENTITY,
                new ProxyOptions(
                    new Endpoint("127.0.0.1", 0),
                    List.of(Endpoint.parse(etcd.clientUrl())),
                    new TlsFiles(proxyServer.cert(), proxyServer.key(), pki.caCert()),
                    new TlsFiles(proxyClient.cert(), proxyClient.key(), pki.caCert()),
                    ProxyOptions.DEFAULT_MAX_RECV_BYTES))) {
      String url = "https://" + proxy.endpoint();
      String[] tls = {
        "--cacert=" + pki.caCert(), "--cert=" + apiserver.cert(), "--key=" + apiserver.key()
      };
      Etcdctl ctl = new Etcdctl(url);
      assertEquals("OK", ctl.run(concat(tls, "put", "/tls/k", "v")).assertOk().stdout().trim());
      assertEquals(
          "v",
          ctl.run(concat(tls, "get", "/tls/k", "--print-value-only")).assertOk().stdout().trim());

      // Without a client certificate the proxy refuses the connection, as etcd with
      // --client-cert-auth does.
      Command.Result anonymous =
          new Etcdctl(url)
              .run(
                  "--cacert=" + pki.caCert(),
                  "--dial-timeout=2s",
                  "--command-timeout=3s",
                  "get",
                  "/tls/k");
      assertNotEquals(0, anonymous.exitCode(), anonymous.stdout());
      assertTrue(!anonymous.stdout().contains("/tls/k"), anonymous.stdout());
    }
  }

  private static String[] concat(String[] a, String... b) {
    String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
