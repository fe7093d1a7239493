package io.etcdcrypt.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.net.InetSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.security.cert.CertificateExpiredException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Refused handshakes are logged once per client address and reason per interval, with a count. */
@Timeout(10)
class HandshakeRefusalsTest {

  private final AtomicLong nanos = new AtomicLong();
  private final HandshakeRefusals refusals =
      new HandshakeRefusals(Duration.ofMinutes(1), nanos::get);

  private static InetSocketAddress peer(String ip, int port) {
    return new InetSocketAddress(ip, port);
  }

  private static Throwable expired() {
    return new SSLHandshakeException("general failure")
        .initCause(new CertificateExpiredException("NotAfter: Mon Jan 01 00:00:00 UTC 2024"));
  }

  @Test
  void oneLinePerPeerAndReasonPerIntervalWithTheCountLeftOut() {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      lines.add(refusals.refused(peer("10.0.0.1", 40000 + i), expired()));
    }
    lines.add(refusals.refused(peer("10.0.0.2", 40000), expired()));
    lines.removeIf(Objects::isNull);
    assertEquals(
        List.of(
            "refused a TLS handshake from 10.0.0.1: its client certificate has expired (NotAfter:"
                + " Mon Jan 01 00:00:00 UTC 2024)",
            "refused a TLS handshake from 10.0.0.2: its client certificate has expired (NotAfter:"
                + " Mon Jan 01 00:00:00 UTC 2024)"),
        lines);

    nanos.addAndGet(Duration.ofSeconds(61).toNanos());
    assertEquals(
        "refused a TLS handshake from 10.0.0.1: its client certificate has expired (NotAfter:"
            + " Mon Jan 01 00:00:00 UTC 2024) (and 49 more from this address for this reason since"
            + " the last such line)",
        refusals.refused(peer("10.0.0.1", 1), expired()));
  }

  @Test
  void aConnectionClosedBeforeItsHandshakeIsNoRefusal() {
    assertNull(refusals.refused(peer("10.0.0.1", 1), new ClosedChannelException()));
  }

  @Test
  void reasonsAreSaidInWordsAnOperatorCanActOn() {
    assertEquals(
        "no client certificate (--trusted-ca-file requires one signed by its CA)",
        HandshakeRefusals.reason(
            new SSLHandshakeException(
                "error:10000418:SSL routines:OPENSSL_internal:PEER_DID_NOT_RETURN_A_CERTIFICATE")));
    assertEquals(
        "its client certificate is not signed by a CA in --trusted-ca-file (unknown CA)",
        HandshakeRefusals.reason(
            new SSLHandshakeException(
                    "error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED")
                .initCause(
                    new java.security.cert.CertificateException(
                        "PKIX path building failed: unable to find valid certification path to"
                            + " requested target"))));
    assertEquals(
        "the client refused the proxy's certificate (SSLV3_ALERT_BAD_CERTIFICATE): check that"
            + " --cert-file is signed by the CA the client trusts and names the address it dials",
        HandshakeRefusals.reason(
            new SSLHandshakeException(
                "error:10000412:SSL routines:OPENSSL_internal:SSLV3_ALERT_BAD_CERTIFICATE")));
    assertEquals(
        "BAD_PACKET_LENGTH",
        HandshakeRefusals.reason(
            new SSLHandshakeException(
                "error:10000070:SSL routines:OPENSSL_internal:BAD_PACKET_LENGTH")));
  }
}
