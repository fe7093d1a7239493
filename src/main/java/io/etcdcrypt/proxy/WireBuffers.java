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
 * <p>The pool keeps chunks it once needed, so the JVM's figure for direct memory is the pool's
 * high-water mark, not what is in use; {@link #inUse()} is the latter, which is what decides
 * whether a large request still fits ({@link InFlightBytes}).
 */
final class WireBuffers {

  /** grpc-java's chunk size: 8 KiB pages, order 8. */
  private static final int PAGE_SIZE = 8192;

  private static final int MAX_ORDER = 8;

  /** How long a reading of {@link #inUse()} is reused: it walks every chunk of the pool. */
  private static final long SAMPLE_NANOS = 1_000_000;

  final PooledByteBufAllocator allocator;

  private volatile long sampledAt = System.nanoTime() - SAMPLE_NANOS;
  private volatile long sampled;

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
    long now = System.nanoTime();
    if (now - sampledAt < SAMPLE_NANOS) {
      return sampled;
    }
    long used = 0;
    for (PoolArenaMetric arena : allocator.metric().directArenas()) {
      used += arena.numActiveBytes(); // every chunk's size, and the buffers too large for one
      for (PoolChunkListMetric chunks : arena.chunkLists()) {
        for (PoolChunkMetric chunk : chunks) {
          used -= chunk.freeBytes();
        }
      }
    }
    sampled = used;
    sampledAt = now;
    return used;
  }
}
