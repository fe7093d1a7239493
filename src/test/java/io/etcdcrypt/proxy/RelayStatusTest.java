package io.etcdcrypt.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.nio.channels.ClosedChannelException;
import org.junit.jupiter.api.Test;

/**
 * What a client gets when the upstream call ends: etcd's own statuses as they are; the UNKNOWN
 * "channel closed" grpc-java makes up when etcd is killed under a call (seen by
 * faults.EtcdKilledUnderLoadTest) as UNAVAILABLE, what etcd's clients see for a member gone.
 */
class RelayStatusTest {

  @Test
  void aConnectionBrokenUnderTheCallIsUnavailable() {
    Status local =
        Status.UNKNOWN.withDescription("channel closed").withCause(new ClosedChannelException());

    Status relayed = Relay.asClientsSeeIt(local);

    assertEquals(Status.Code.UNAVAILABLE, relayed.getCode());
    assertEquals(
        "etcd-crypt-proxy: the connection to etcd broke during the call (channel closed); a write"
            + " may or may not have been applied",
        relayed.getDescription());
  }

  @Test
  void anAnswerTheProxyHadNoMemoryForIsResourceExhaustedWithWhatToDo() {
    // grpc-java's status when parsing etcd's answer threw: CANCELLED with the Error as cause.
    Status local =
        Status.CANCELLED
            .withDescription("Failed to read message.")
            .withCause(
                new OutOfMemoryError("Cannot reserve 2097152 bytes of direct buffer memory"));

    Status relayed = Relay.asClientsSeeIt(local);

    assertEquals(Status.Code.RESOURCE_EXHAUSTED, relayed.getCode());
    assertEquals(
        "etcd-crypt-proxy: could not hold etcd's answer (OutOfMemoryError): the proxy is short of"
            + " memory; retry with backoff, and give the proxy a larger -Xmx /"
            + " -XX:MaxDirectMemorySize or a lower --max-in-flight-bytes",
        relayed.getDescription());
  }

  @Test
  void etcdsOwnStatusesPassAsTheyAre() {
    Status fromTheWire = Status.UNKNOWN.withDescription("election: no leader");
    assertSame(fromTheWire, Relay.asClientsSeeIt(fromTheWire));
    Status unavailable = Status.UNAVAILABLE.withCause(new ClosedChannelException());
    assertSame(unavailable, Relay.asClientsSeeIt(unavailable));
    assertSame(Status.OK, Relay.asClientsSeeIt(Status.OK));
  }

  @Test
  void aLongCauseIsCutToOneShortLine() {
    Status local =
        Status.UNKNOWN
            .withDescription("x".repeat(1000) + "\n\tat somewhere")
            .withCause(new IllegalStateException());
    String description = Relay.asClientsSeeIt(local).getDescription();
    assertTrue(description.length() < 300 && !description.contains("\n"), description);
  }
}
