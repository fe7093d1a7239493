package io.etcdcrypt.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Which requests {@link InFlightBytes} admits: small ones always; large ones while they fit in
 * {@code --max-in-flight-bytes} and while the direct memory the wire buffers hold, with them, stays
 * within half of the JVM's limit.
 */
@Timeout(10)
class InFlightBytesAdmissionTest {

  private static final long MIB = 1 << 20;

  private final AtomicLong directHeld = new AtomicLong();
  private final InFlightBytes inFlight =
      new InFlightBytes(32 * MIB, new DirectMemory(directHeld::get, 128 * MIB));

  @Test
  void largeRequestsFitUntilTheCapAndAreRefusedPastIt() {
    for (int i = 0; i < 32; i++) {
      assertNull(inFlight.admit(MIB, MIB), "request " + i);
    }
    Status refused = inFlight.admit(MIB, MIB);
    assertNotNull(refused);
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, refused.getCode());
    assertEquals(
        "etcd-crypt-proxy: request refused, not queued: it brings 1048576 bytes while 33554432"
            + " bytes of requests and responses are in flight (--max-in-flight-bytes 33554432);"
            + " retry with backoff",
        refused.getDescription());
    assertEquals(32 * MIB, inFlight.held(), "a refusal counts nothing");
    assertEquals(1, inFlight.refused());

    inFlight.release(MIB);
    assertNull(inFlight.admit(MIB, MIB), "room again once a request left");
  }

  @Test
  void largeRequestsAreRefusedWhileTheWireBuffersHoldHalfTheDirectMemory() {
    directHeld.set(63 * MIB);
    assertNull(inFlight.admit(MIB, MIB), "63 + 1 MiB: within half of 128 MiB");
    directHeld.set(64 * MIB);
    Status refused = inFlight.admit(MIB, MIB);
    assertNotNull(refused);
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, refused.getCode());
    assertTrue(
        refused
            .getDescription()
            .endsWith(
                "it brings 1048576 bytes while the proxy's buffers hold 67108864 bytes of direct"
                    + " memory;"
                    + " retry with backoff"),
        refused.getDescription());
    assertEquals(MIB, inFlight.held(), "only the first request is held");

    // Small requests (reads, small writes) pass whatever the buffers hold: refusing them would free
    // nothing.
    directHeld.set(127 * MIB);
    assertNull(inFlight.admit(64 << 10, 64 << 10));
  }

  @Test
  void aRequestStillArrivingIsJudgedByWhatHasArrivedSoFar() {
    directHeld.set(64 * MIB);
    assertNull(inFlight.admit(32 << 10, 32 << 10), "its first 32 KiB: a small request so far");
    assertNotNull(inFlight.admit(64 << 10, 96 << 10), "96 KiB so far: a large one now");
  }
}
