package io.etcdcrypt.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import reactor.blockhound.BlockingOperationError;

/**
 * The detector is installed for the whole suite and catches a block on a proxy event-loop thread,
 * only there.
 */
class EventLoopBlockingDetectorTest {

  private static Throwable sleepOn(String threadName) throws InterruptedException {
    AtomicReference<Throwable> caught = new AtomicReference<>();
    Thread t =
        new Thread(
            () -> {
              try {
                Thread.sleep(5);
              } catch (Throwable e) {
                caught.set(e);
              }
            },
            threadName);
    t.start();
    t.join(10_000);
    return caught.get();
  }

  @Test
  void aSleepOnAProxyEventLoopFailsAndIsRecorded() throws Exception {
    Throwable error = sleepOn("proxy-event-loop-99-1");
    assertInstanceOf(BlockingOperationError.class, error);
    List<String> recorded = EventLoopBlockingDetector.drain();
    assertTrue(
        recorded.stream()
            .anyMatch(v -> v.startsWith("proxy-event-loop-99-1 blocked in java.lang.Thread")),
        recorded.toString());
  }

  @Test
  void otherThreadsMaySleep() throws Exception {
    assertNull(sleepOn("kms-unix-socket-1-1"));
    assertEquals(List.of(), EventLoopBlockingDetector.drain());
  }
}
