package io.etcdcrypt.proxy;

import io.etcdcrypt.log.RateLimitedWarning;
import io.grpc.Status;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.LoggerFactory;

/**
 * The bytes of messages the proxy holds at once, across every call, bounded by {@code
 * --max-in-flight-bytes}: what the proxy may buffer is set by its configuration, not by what
 * clients send.
 *
 * <p>Counted are a client's request from its first byte read (grpc-java collects a message whole
 * before handing it on; {@link InFlightTracer} counts it as it arrives) until it has been handed to
 * etcd's connection, and etcd's response from its arrival until the client's connection has taken
 * it. Each of those bytes costs a few more while it is held (the wire bytes, the parsed message,
 * its encrypted or decrypted copy), so the bound on memory is a small multiple of this one; the
 * README gives the figures.
 *
 * <p>A request larger than {@value #ALWAYS_ADMITTED} bytes that would take the count past the cap
 * is refused with RESOURCE_EXHAUSTED, while it arrives or once it has, and nothing of it reaches
 * etcd; so is one that arrives while the direct memory the wire buffers' pool holds ({@link
 * DirectMemory}) passes half of the JVM's limit, since not every buffer is counted here (framing,
 * answers still arriving), the pool holds more than its buffers use, and a connection whose read
 * finds no direct memory fails with all its calls. Smaller requests (reads, small writes,
 * keep-alives) are always admitted: refusing them would free nothing, and so one client's large
 * writes can never stop another's reads. etcd's responses are never refused, since a write's answer
 * must reach its client; they are counted, so that while they are held large requests wait their
 * turn.
 */
final class InFlightBytes {

  /** Requests up to this size are never refused. */
  static final long ALWAYS_ADMITTED = 64 << 10;

  /** {@code --max-in-flight-bytes}' default. */
  static final long DEFAULT_MAX = 32L << 20;

  private static final RateLimitedWarning REFUSALS =
      new RateLimitedWarning(LoggerFactory.getLogger(InFlightBytes.class), Duration.ofSeconds(10));

  private final long max;
  private final DirectMemory direct;
  private final long directForRequests;
  private final AtomicLong held = new AtomicLong();
  private final LongAdder refused = new LongAdder();

  /**
   * @param max {@code --max-in-flight-bytes}
   * @param direct the JVM's direct memory: large requests are admitted only while what the pool
   *     holds, with them, stays within half of its limit, and the other half is left for etcd's
   *     answers (which are never refused) and small requests
   */
  InFlightBytes(long max, DirectMemory direct) {
    if (max <= 0) {
      throw new IllegalArgumentException("--max-in-flight-bytes must be positive");
    }
    this.max = max;
    this.direct = direct;
    this.directForRequests = direct.limit() / 2;
  }

  /** The cap. */
  long max() {
    return max;
  }

  /** The bytes held now. */
  long held() {
    return held.get();
  }

  /** Requests refused so far. */
  long refused() {
    return refused.sum();
  }

  /**
   * Counts a client's request of {@code bytes} (or its next {@code bytes}, when it is still
   * arriving, {@code soFar} with them): null when it may be held, else the refusal, and then
   * nothing is counted.
   */
  Status admit(long bytes, long soFar) {
    if (soFar <= ALWAYS_ADMITTED) {
      held.addAndGet(bytes);
      return null;
    }
    // Not every wire buffer is counted here (framing, answers still arriving), and the pool holds
    // more than its buffers use, so what the pool holds has the last word on room.
    long directHeld = direct.held().getAsLong();
    if (directHeld + bytes > directForRequests) {
      refused.increment();
      REFUSALS.warn(
          "refused a request of {}+ bytes with RESOURCE_EXHAUSTED: the wire buffers held {} bytes"
              + " of {} of direct memory (-XX:MaxDirectMemorySize; large requests may take it to"
              + " half);"
              + " clients send more large requests at once than it allows: raise it (README,"
              + " Memory) if they are legitimate",
          soFar,
          directHeld,
          direct.limit());
      return refusal(
          soFar,
          String.format(
              Locale.ROOT, "the proxy's buffers hold %d bytes of direct memory", directHeld));
    }
    while (true) {
      long now = held.get();
      if (now + bytes > max) {
        refused.increment();
        REFUSALS.warn(
            "refused a request of {}+ bytes with RESOURCE_EXHAUSTED: {} bytes were in flight"
                + " (--max-in-flight-bytes {}); clients send more large requests at once than it"
                + " allows: raise it with the memory (README, Memory) if they are legitimate",
            soFar,
            now,
            max);
        return refusal(
            soFar,
            String.format(
                Locale.ROOT,
                "%d bytes of requests and responses are in flight (--max-in-flight-bytes %d)",
                now,
                max));
      }
      if (held.compareAndSet(now, now + bytes)) {
        return null;
      }
    }
  }

  /** Counts {@code bytes} that cannot be refused: an etcd response. */
  void hold(long bytes) {
    held.addAndGet(bytes);
  }

  /** {@code bytes} held before are no longer. */
  void release(long bytes) {
    if (bytes != 0) {
      held.addAndGet(-bytes);
    }
  }

  private static Status refusal(long request, String why) {
    return Status.RESOURCE_EXHAUSTED.withDescription(
        "etcd-crypt-proxy: request refused, not queued: it brings "
            + request
            + " bytes while "
            + why
            + "; retry with backoff");
  }
}
