package io.etcdcrypt.proxy;

import io.grpc.netty.shaded.io.netty.buffer.PoolArenaMetric;
import io.grpc.netty.shaded.io.netty.buffer.PoolChunkListMetric;
import io.grpc.netty.shaded.io.netty.buffer.PoolChunkMetric;
import io.grpc.netty.shaded.io.netty.buffer.PooledByteBufAllocator;

/**
 * The pool of direct buffers every message on the wire lives in, clients' and etcd's connections
 * alike: grpc-java's own kind of pool (2 MiB chunks), with one arena per event-loop thread, so that
 * a burst of large messages leaves fewer half-empty chunks behind than one arena per core pair.
 *
 * <p>The pool takes direct memory from the JVM a chunk at a time and gives a chunk back once it is
 * empty, so it holds more than its buffers use: a chunk stays while any buffer in it lives, and a
 * buffer that needs a run of pages no chunk of its arena has free takes a new chunk. Under many
 * concurrent large messages what the pool holds ({@link #reserved()}, what counts against {@code
 * -XX:MaxDirectMemorySize}) was measured at up to twice what is in use ({@link #inUse()}): 96 MiB
 * held for 50 MiB of buffers.
 */
final class WireBuffers {

  /** grpc-java's chunk size: 8 KiB pages, order 8. */
  private static final int PAGE_SIZE = 8192;

  private static final int MAX_ORDER = 8;

  /** How long a reading is reused: it walks every chunk of the pool under its arenas' locks. */
  private static final long SAMPLE_NANOS = 1_000_000;

  final PooledByteBufAllocator allocator;

  private volatile Sample sample = new Sample(System.nanoTime() - SAMPLE_NANOS, 0, 0);

  WireBuffers(int eventLoopThreads) {
    this.allocator =
        new PooledByteBufAllocator(
            true,
            eventLoopThreads,
            eventLoopThreads,
            PAGE_SIZE,
            MAX_ORDER,
            PooledByteBufAllocator.defaultSmallCacheSize(),
            PooledByteBufAllocator.defaultNormalCacheSize(),
            PooledByteBufAllocator.defaultUseCacheForAllThreads());
  }

  /** The bytes of direct buffers in use now (read at most once a millisecond). */
  long inUse() {
    return current().inUse;
  }

  /**
   * The bytes of direct memory the pool holds from the JVM now (read at most once a millisecond):
   * every chunk it keeps, used or not, and the buffers too large for one.
   */
  long reserved() {
    return current().reserved;
  }

  private Sample current() {
    Sample last = sample;
    long now = System.nanoTime();
    if (now - last.at < SAMPLE_NANOS) {
      return last;
    }
    long reserved = 0;
    long free = 0;
    for (PoolArenaMetric arena : allocator.metric().directArenas()) {
      reserved += arena.numActiveBytes(); // every chunk's size, and the buffers too large for one
      for (PoolChunkListMetric chunks : arena.chunkLists()) {
        for (PoolChunkMetric chunk : chunks) {
          free += chunk.freeBytes();
        }
      }
    }
    Sample taken = new Sample(now, reserved - free, reserved);
    sample = taken;
    return taken;
  }

  private record Sample(long at, long inUse, long reserved) {}
}
