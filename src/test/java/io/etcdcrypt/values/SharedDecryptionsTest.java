package io.etcdcrypt.values;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.crypto.ValueCodec;
import io.etcdcrypt.testing.TestCodecs;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class SharedDecryptionsTest {

  private static final ByteString KEY = ByteString.copyFromUtf8("/registry/secrets/ns/a");
  private static final SharedDecryptions.Limits LIMITS =
      new SharedDecryptions.Limits(100, 1 << 20, Duration.ofSeconds(2));

  /** A codec whose stored values are "k8s:enc:test:" + plaintext; counts its decryptions. */
  private static final class FakeCodec implements ValueCodec {
    final AtomicInteger decryptions = new AtomicInteger();
    volatile Function<ByteString, CompletionStage<ByteString>> open =
        v -> CompletableFuture.completedFuture(plaintextOf(v));
    volatile boolean stale;

    @Override
    public boolean mayProtectRange(ByteString key, ByteString rangeEnd) {
      return true;
    }

    @Override
    public CompletionStage<ByteString> toStorage(ByteString key, ByteString value) {
      return CompletableFuture.completedFuture(stored(value.toStringUtf8()));
    }

    @Override
    public CompletionStage<ByteString> fromStorage(
        ByteString key, ByteString value, long modRevision, StaleListener listener) {
      if (!value.startsWith(ByteString.copyFromUtf8("k8s:enc:"))) {
        return UNCHANGED;
      }
      decryptions.incrementAndGet();
      if (stale) {
        listener.stale(key, modRevision);
      }
      return open.apply(value);
    }
  }

  private static ByteString stored(String plaintext) {
    return ByteString.copyFromUtf8("k8s:enc:test:" + plaintext);
  }

  private static ByteString plaintextOf(ByteString stored) {
    return stored.substring("k8s:enc:test:".length());
  }

  private static ByteString open(ValueCodec codec, ByteString key, ByteString value, long rev) {
    return open(codec, key, value, rev, ValueCodec.StaleListener.NONE);
  }

  private static ByteString open(
      ValueCodec codec,
      ByteString key,
      ByteString value,
      long rev,
      ValueCodec.StaleListener listener) {
    return ValueCodec.valueOf(
        codec.fromStorage(key, value, rev, listener).toCompletableFuture().join(), value);
  }

  @Test
  void concurrentReadersOfOneEventWaitForOneDecryption() throws Exception {
    FakeCodec codec = new FakeCodec();
    CompletableFuture<ByteString> decryption = new CompletableFuture<>();
    codec.open = v -> decryption; // in flight until every reader asked
    SharedDecryptions shared = new SharedDecryptions(codec, LIMITS);
    int readers = 16;
    ExecutorService pool = Executors.newFixedThreadPool(readers);
    try {
      CountDownLatch start = new CountDownLatch(1);
      CountDownLatch asked = new CountDownLatch(readers);
      List<Future<CompletionStage<ByteString>>> results = new ArrayList<>();
      for (int i = 0; i < readers; i++) {
        // Each reader has its own copy of the bytes, as each Watch stream parses its own response.
        ByteString key = ByteString.copyFrom(KEY.toByteArray());
        ByteString value = ByteString.copyFrom(stored("secret").toByteArray());
        results.add(
            pool.submit(
                () -> {
                  start.await();
                  CompletionStage<ByteString> r = shared.fromStorage(key, value, 7, (k, rev) -> {});
                  asked.countDown();
                  return r;
                }));
      }
      start.countDown();
      assertTrue(asked.await(10, TimeUnit.SECONDS));
      decryption.complete(ByteString.copyFromUtf8("secret"));
      for (Future<CompletionStage<ByteString>> r : results) {
        assertEquals(
            "secret", r.get(10, TimeUnit.SECONDS).toCompletableFuture().join().toStringUtf8());
      }
    } finally {
      pool.shutdownNow();
    }
    assertEquals(1, codec.decryptions.get(), "one decryption for every reader");
    assertEquals(1, shared.decrypted());
    assertEquals(readers - 1, shared.shared());
  }

  @Test
  void differentBytesUnderTheSameKeyAndRevisionAreNeverShared() {
    FakeCodec codec = new FakeCodec();
    SharedDecryptions shared = new SharedDecryptions(codec, LIMITS);
    assertEquals("one", open(shared, KEY, stored("one"), 5).toStringUtf8());
    // A restored etcd can hold another value under the same key and revision.
    assertEquals("two", open(shared, KEY, stored("two"), 5).toStringUtf8());
    assertEquals("one", open(shared, KEY, stored("one"), 5).toStringUtf8());
    assertEquals(2, codec.decryptions.get());
    assertEquals(1, shared.shared());
    // Another revision or key is another value.
    open(shared, KEY, stored("one"), 6);
    open(shared, ByteString.copyFromUtf8("/registry/secrets/ns/b"), stored("one"), 5);
    assertEquals(4, codec.decryptions.get());
  }

  @Test
  void theRealCodecDecryptsAndCountsOnceAndNeverAnswersForOtherCiphertext() throws Exception {
    AtomicLong fromStorage = new AtomicLong();
    EncryptionCodec codec =
        TestCodecs.secretsUnderAesGcm(
            TestCodecs.countingDecryptions("k8s:enc:aesgcm:v1:", fromStorage));
    ByteString a = codec.toStorage(KEY, ByteString.copyFromUtf8("a")).toCompletableFuture().get();
    ByteString b = codec.toStorage(KEY, ByteString.copyFromUtf8("b")).toCompletableFuture().get();
    open(codec, KEY, a, 3);
    long perDecryption = fromStorage.getAndSet(0);
    assertEquals(1, perDecryption);

    SharedDecryptions shared = new SharedDecryptions(codec, LIMITS);
    for (int watcher = 0; watcher < 20; watcher++) {
      assertEquals("a", open(shared, KEY, ByteString.copyFrom(a.toByteArray()), 3).toStringUtf8());
    }
    assertEquals(perDecryption, fromStorage.get(), "20 readers, one decryption counted");
    assertEquals("b", open(shared, KEY, b, 3).toStringUtf8());
    assertEquals(2 * perDecryption, fromStorage.get());
  }

  @Test
  void aFailedDecryptionFailsItsWaitersAndIsNotKept() {
    FakeCodec codec = new FakeCodec();
    CompletableFuture<ByteString> failing = new CompletableFuture<>();
    codec.open = v -> failing;
    SharedDecryptions shared = new SharedDecryptions(codec, LIMITS);
    CompletableFuture<ByteString> first =
        shared
            .fromStorage(KEY, stored("x"), 9, ValueCodec.StaleListener.NONE)
            .toCompletableFuture();
    CompletableFuture<ByteString> waiting =
        shared
            .fromStorage(KEY, stored("x"), 9, ValueCodec.StaleListener.NONE)
            .toCompletableFuture();
    failing.completeExceptionally(new TransformException("no key opens it"));
    assertThrows(CompletionException.class, first::join);
    assertThrows(CompletionException.class, waiting::join);

    codec.open = v -> CompletableFuture.completedFuture(plaintextOf(v));
    assertEquals("x", open(shared, KEY, stored("x"), 9).toStringUtf8());
    assertEquals(2, codec.decryptions.get(), "the failure was decrypted again, not replayed");
  }

  @Test
  void aCodecThatThrowsFailsOnlyThatCallAndKeepsNothing() {
    FakeCodec codec = new FakeCodec();
    codec.open =
        v -> {
          throw new IllegalStateException("broken");
        };
    SharedDecryptions shared = new SharedDecryptions(codec, LIMITS);
    assertThrows(
        IllegalStateException.class,
        () -> shared.fromStorage(KEY, stored("x"), 1, ValueCodec.StaleListener.NONE));
    codec.open = v -> CompletableFuture.completedFuture(plaintextOf(v));
    assertEquals("x", open(shared, KEY, stored("x"), 1).toStringUtf8());
    assertEquals(2, codec.decryptions.get());
  }

  @Test
  void boundedByEntries() {
    FakeCodec codec = new FakeCodec();
    SharedDecryptions shared =
        new SharedDecryptions(
            codec, new SharedDecryptions.Limits(3, 1 << 20, Duration.ofSeconds(2)));
    for (long rev = 1; rev <= 4; rev++) {
      open(shared, KEY, stored("v"), rev);
    }
    open(shared, KEY, stored("v"), 4);
    open(shared, KEY, stored("v"), 2);
    assertEquals(4, codec.decryptions.get(), "revisions 2 to 4 kept");
    open(shared, KEY, stored("v"), 1);
    assertEquals(5, codec.decryptions.get(), "revision 1 was dropped, the oldest");
  }

  @Test
  void boundedByBytes() {
    FakeCodec codec = new FakeCodec();
    String kib = "x".repeat(1024);
    // Each 1 KiB value counts as about 2.2 KiB: 32 KiB hold 14 of them.
    SharedDecryptions shared =
        new SharedDecryptions(
            codec, new SharedDecryptions.Limits(100, 32 << 10, Duration.ofSeconds(2)));
    for (long rev = 1; rev <= 20; rev++) {
      open(shared, KEY, stored(kib), rev);
    }
    open(shared, KEY, stored(kib), 20);
    open(shared, KEY, stored(kib), 7);
    assertEquals(20, codec.decryptions.get(), "the newest 14 kept");
    open(shared, KEY, stored(kib), 6);
    assertEquals(21, codec.decryptions.get(), "the older ones dropped");

    // A value over an eighth of the bound is decrypted for each reader, never kept.
    String large = "y".repeat(2500);
    open(shared, KEY, stored(large), 30);
    open(shared, KEY, stored(large), 30);
    assertEquals(23, codec.decryptions.get());
  }

  @Test
  void decryptionsExpire() {
    FakeCodec codec = new FakeCodec();
    AtomicLong now = new AtomicLong(1_000);
    SharedDecryptions shared = new SharedDecryptions(codec, LIMITS, now::get);
    open(shared, KEY, stored("v"), 1);
    now.addAndGet(Duration.ofMillis(1999).toNanos());
    open(shared, KEY, stored("v"), 1);
    assertEquals(1, codec.decryptions.get());
    now.addAndGet(Duration.ofMillis(2).toNanos());
    open(shared, KEY, stored("v"), 1);
    assertEquals(2, codec.decryptions.get(), "2 s after the decryption started");
  }

  @Test
  void aReloadedConfigurationDecryptsAgain() {
    FakeCodec before = new FakeCodec();
    FakeCodec after = new FakeCodec();
    after.open = v -> CompletableFuture.completedFuture(ByteString.copyFromUtf8("after"));
    ValueCodec[] current = {before};
    ValueCodec swappable =
        new ValueCodec() {
          @Override
          public ValueCodec current() {
            return current[0];
          }

          @Override
          public boolean mayProtectRange(ByteString key, ByteString rangeEnd) {
            return current[0].mayProtectRange(key, rangeEnd);
          }

          @Override
          public CompletionStage<ByteString> toStorage(ByteString key, ByteString value) {
            return current[0].toStorage(key, value);
          }

          @Override
          public CompletionStage<ByteString> fromStorage(
              ByteString key, ByteString value, long modRevision, StaleListener listener) {
            return current[0].fromStorage(key, value, modRevision, listener);
          }
        };
    SharedDecryptions shared = new SharedDecryptions(swappable, LIMITS);
    assertEquals("v", open(shared, KEY, stored("v"), 1).toStringUtf8());
    current[0] = after;
    assertEquals("after", open(shared, KEY, stored("v"), 1).toStringUtf8());
    assertEquals(1, before.decryptions.get());
    assertEquals(1, after.decryptions.get());
  }

  @Test
  void aStaleValueIsOfferedOncePerDecryptionToItsFirstCurrentReader() {
    FakeCodec codec = new FakeCodec();
    codec.stale = true;
    SharedDecryptions shared = new SharedDecryptions(codec, LIMITS);
    List<Long> offered = new ArrayList<>();
    ValueCodec.StaleListener listener = (key, rev) -> offered.add(rev);
    // Read first as a prev_kv (history: no listener), then as current values by three streams.
    open(shared, KEY, stored("v"), 4, ValueCodec.StaleListener.NONE);
    assertEquals(List.of(), offered);
    open(shared, KEY, stored("v"), 4, listener);
    open(shared, KEY, stored("v"), 4, listener);
    open(shared, KEY, stored("v"), 4, listener);
    assertEquals(List.of(4L), offered);
    assertEquals(1, codec.decryptions.get());

    codec.stale = false;
    open(shared, KEY, stored("w"), 5, listener);
    open(shared, KEY, stored("w"), 5, listener);
    assertEquals(List.of(4L), offered, "a current value is offered to nobody");
  }

  @Test
  void plaintextValuesGoToTheCodecAsBefore() {
    FakeCodec codec = new FakeCodec();
    SharedDecryptions shared = new SharedDecryptions(codec, LIMITS);
    ByteString plain = ByteString.copyFromUtf8("{\"kind\":\"ConfigMap\"}");
    assertNull(
        shared
            .fromStorage(KEY, plain, 1, ValueCodec.StaleListener.NONE)
            .toCompletableFuture()
            .join());
    assertSame(plain, open(shared, KEY, plain, 1));
    assertEquals(0, shared.decrypted() + shared.shared());
  }
}
