package io.etcdcrypt.testing;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.netty.shaded.io.netty.buffer.ByteBufAllocator;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The leak detection the suite runs with sees a buffer that was never released. */
class NettyLeakDetectorTest {

  @Test
  void aBufferCollectedWithoutReleaseIsReported() {
    ByteBufAllocator.DEFAULT.buffer(64).writeLong(42); // dropped without release()
    List<String> reports = new ArrayList<>();
    Await.until(
        "Netty to report the leaked buffer",
        Duration.ofSeconds(20),
        () -> {
          System.gc();
          ByteBufAllocator.DEFAULT.buffer(16).release(); // tracking a buffer is when Netty reports
          reports.addAll(NettyLeakDetector.drain());
          return !reports.isEmpty();
        });
    assertTrue(reports.get(0).startsWith("LEAK: ByteBuf.release() was not called"), reports.get(0));
  }
}
