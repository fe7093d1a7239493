package io.etcdcrypt.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.netty.shaded.io.netty.buffer.ByteBuf;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What {@link WireBuffers} reads of Netty's pool: what its buffers use, and what it holds of the
 * JVM's direct memory, which a chunk with one live buffer left keeps whole.
 */
@Timeout(10)
class WireBuffersTest {

  private static final int KIB = 1 << 10;
  private static final long CHUNK = 2L << 20;

  private final WireBuffers buffers = new WireBuffers(1);

  @Test
  void aChunkWithOneLiveBufferStillCountsWholeAgainstTheLimit() throws InterruptedException {
    // 64 KiB each: larger than the per-thread caches keep, so releasing one frees its pages.
    List<ByteBuf> live = new ArrayList<>();
    for (int i = 0; i < 64; i++) {
      live.add(buffers.allocator.directBuffer(64 * KIB, 64 * KIB));
    }
    nextReading();
    assertEquals(4L << 20, buffers.inUse(), "64 buffers of 64 KiB");
    assertEquals(2 * CHUNK, buffers.reserved(), "in two 2 MiB chunks");

    // Every buffer but the last of each chunk goes: the buffers use little, the pool holds as much.
    for (int i = 0; i < live.size(); i++) {
      if (i % 32 != 31) {
        live.get(i).release();
      }
    }
    nextReading();
    assertEquals(2 * 64 * KIB, buffers.inUse(), "one buffer left per chunk");
    assertEquals(2 * CHUNK, buffers.reserved(), "both chunks still held");

    live.get(31).release();
    live.get(63).release();
    nextReading();
    assertEquals(0, buffers.inUse());
    assertTrue(buffers.reserved() <= 2 * CHUNK, "empty chunks are kept or given back, never more");
  }

  /** A reading is reused for a millisecond. */
  private static void nextReading() throws InterruptedException {
    Thread.sleep(2);
  }
}
