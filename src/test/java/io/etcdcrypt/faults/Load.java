package io.etcdcrypt.faults;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.etcdcrypt.config.EtcdKeys;
import io.etcdcrypt.etcd.etcdserverpb.Compare;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeResponse;
import io.etcdcrypt.etcd.etcdserverpb.RequestOp;
import io.etcdcrypt.etcd.etcdserverpb.TxnRequest;
import io.etcdcrypt.etcd.etcdserverpb.TxnResponse;
import io.etcdcrypt.etcd.mvccpb.KeyValue;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.Ciphertext;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * Clients of the proxy under load while a test breaks what the proxy depends on: a few threads,
 * each the only writer of its own keys, write numbered values ({@code ... #<seq>}, the sequence
 * rising with every attempt) with Put and with compare-and-swap Txns (compare on the key's
 * mod_revision), and read them back with Range; the random choice of operation is seeded, so a run
 * is the same sequence of calls whatever the timing.
 *
 * <p>The promises are checked from outside the proxy, on everything the clients get: no answer
 * carries ciphertext ({@code k8s:enc:}); a read gives the last acknowledged value of its key or one
 * whose write failed since (a failed write may or may not have been applied, as with etcd itself),
 * never an older one (no lost update); a failed call carries a gRPC status whose description is one
 * short line with no stack trace, and comes back within the call's deadline. What breaks one is
 * collected ({@link #assertNoBrokenPromise()}), not thrown, so that the load goes on.
 */
final class Load implements AutoCloseable {

  /** The operations the clients make. */
  enum Mix {
    /** Put, compare-and-swap Txn, Range of a key, Range of the client's keys. */
    PUT_TXN_RANGE,
    /** Compare-and-swap Txns only (on a failed compare, its failure branch reads the key). */
    CAS
  }

  /** The deadline of every call: one that takes longer is a hang. */
  private static final Duration DEADLINE = Duration.ofSeconds(30);

  private static final int MAX_DESCRIPTION = 300;

  /**
   * How the proxy's own refusals begin: its INTERNAL for a value it cannot encrypt or decrypt (the
   * README's "fail closed"), as opposed to grpc-java's INTERNAL or UNKNOWN for what nobody handled.
   */
  private static final String PROXY_REFUSAL = "etcd-crypt-proxy: ";

  private final KVGrpc.KVBlockingStub kv;
  private final String prefix;
  private final Mix mix;
  private final List<Thread> threads = new ArrayList<>();
  private final List<Owned> owned = new ArrayList<>();
  private final List<String> broken = Collections.synchronizedList(new ArrayList<>());
  private final Map<String, AtomicLong> failures = new ConcurrentHashMap<>();
  private final AtomicLong calls = new AtomicLong();
  private final AtomicLong acknowledgedWrites = new AtomicLong();
  private final AtomicLong failed = new AtomicLong();
  private final AtomicLong failedCompares = new AtomicLong();
  private final AtomicLong successesInARow = new AtomicLong();
  private volatile boolean running = true;
  private volatile String focus; // when set, clients update the keys just after it
  private volatile long pauseMillis;

  /** How many of its keys after the {@link #focusOn focus} a client updates. */
  private static final int FOCUS_WIDTH = 200;

  /** What one client knows of one of its keys. */
  private static final class KeyState {
    final String key;
    long acknowledged; // the sequence number of the last write the proxy acknowledged
    long attempted;
    final TreeSet<Long> failedSince = new TreeSet<>(); // writes failed since, perhaps applied
    long modRevision;

    KeyState(String key) {
      this.key = key;
    }

    boolean mayHold(long seq) {
      return seq == acknowledged || failedSince.contains(seq);
    }

    /** A read saw {@code seq}: a failed write that was applied after all is acknowledged now. */
    void saw(long seq, long revision) {
      if (seq != acknowledged && failedSince.contains(seq)) {
        acknowledged = seq;
        failedSince.headSet(seq, true).clear();
      }
      modRevision = revision;
    }

    void acknowledge(long seq, long revision) {
      acknowledged = seq;
      failedSince.clear();
      modRevision = revision;
    }
  }

  /** The keys of one client thread. */
  private record Owned(int client, List<KeyState> keys) {}

  /** What a test does to the proxy's dependencies while the load runs. */
  interface Faults {
    void inject(Load load) throws Exception;
  }

  /**
   * Writes the first values of {@code clients * keysPerClient} keys under {@code prefix} through
   * {@code proxy}, runs the load with the {@link Mix#PUT_TXN_RANGE} mix on them, injects {@code
   * faults} once 100 calls were made, then stops it and checks that no update was lost.
   */
  static void run(
      String name,
      Channel proxy,
      String prefix,
      int clients,
      int keysPerClient,
      long seed,
      Faults faults)
      throws Exception {
    populate(proxy, prefix, clients, keysPerClient);
    try (Load load = start(proxy, prefix, clients, keysPerClient, seed, Mix.PUT_TXN_RANGE)) {
      load.awaitCalls("before any fault", 100);
      faults.inject(load);
      load.stopAndAssertNoLostUpdate(() -> proxy);
      System.out.println(name + ": " + load);
    }
  }

  private Load(Channel proxy, String prefix, Mix mix) {
    this.kv = KVGrpc.newBlockingStub(proxy);
    this.prefix = prefix;
    this.mix = mix;
  }

  /** The key {@code i} of client {@code client} under {@code prefix}. */
  static String key(String prefix, int client, int i) {
    return String.format("%sc%d/k-%04d", prefix, client, i);
  }

  /** The value a client writes at {@code key} as its {@code seq}th write: plaintext. */
  static String value(String key, long seq) {
    return "{\"kind\":\"Secret\",\"data\":\"plaintext of " + key + "\"} #" + seq;
  }

  /**
   * Writes the first value ({@code #0}) of each of {@code clients * keysPerClient} keys under
   * {@code prefix} through {@code proxy}, as {@link #start} expects to find them; fails on any
   * error (before any fault).
   */
  static void populate(Channel proxy, String prefix, int clients, int keysPerClient) {
    KVGrpc.KVBlockingStub kv = KVGrpc.newBlockingStub(proxy);
    for (int c = 0; c < clients; c++) {
      for (int i = 0; i < keysPerClient; i++) {
        String key = key(prefix, c, i);
        kv.withDeadlineAfter(DEADLINE.toMillis(), TimeUnit.MILLISECONDS)
            .put(PutRequest.newBuilder().setKey(bs(key)).setValue(bs(value(key, 0))).build());
      }
    }
  }

  /**
   * Starts {@code clients} threads on the keys {@link #populate} wrote, each reading its keys'
   * revisions first, the choice of operations seeded with {@code seed}.
   */
  static Load start(
      Channel proxy, String prefix, int clients, int keysPerClient, long seed, Mix mix) {
    Load load = new Load(proxy, prefix, mix);
    for (int c = 0; c < clients; c++) {
      List<KeyState> keys = new ArrayList<>();
      for (int i = 0; i < keysPerClient; i++) {
        KeyState k = new KeyState(key(prefix, c, i));
        RangeResponse r = load.stub().range(RangeRequest.newBuilder().setKey(bs(k.key)).build());
        assertEquals(1, r.getKvsCount(), k.key + " was populated");
        assertEquals(value(k.key, 0), r.getKvs(0).getValue().toStringUtf8(), k.key);
        k.modRevision = r.getKvs(0).getModRevision();
        keys.add(k);
      }
      load.owned.add(new Owned(c, keys));
    }
    for (Owned o : load.owned) {
      Thread t = new Thread(() -> load.run(o, new Random(seed + o.client())), "load-" + o.client());
      t.setDaemon(true);
      load.threads.add(t);
      t.start();
    }
    return load;
  }

  private KVGrpc.KVBlockingStub stub() {
    return kv.withDeadlineAfter(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
  }

  private void run(Owned o, Random random) {
    while (running) {
      KeyState k = choose(o.keys(), random);
      int op = mix == Mix.CAS ? 1 : random.nextInt(10);
      long started = System.nanoTime();
      String what = "?";
      try {
        if (op < 3) {
          what = "Put " + k.key;
          put(k);
        } else if (op < 6) {
          what = "Txn on " + k.key;
          compareAndSwap(k);
        } else if (op < 9) {
          what = "Range " + k.key;
          read(k);
        } else {
          what = "Range of client " + o.client() + "'s keys";
          readAll(o);
        }
        calls.incrementAndGet();
        successesInARow.incrementAndGet();
        if (pauseMillis > 0) {
          Thread.sleep(pauseMillis); // the pace pace() asked for
        }
      } catch (StatusRuntimeException e) {
        calls.incrementAndGet();
        failed(what, e.getStatus(), System.nanoTime() - started);
        backOff();
      } catch (InterruptedException e) {
        running = false;
      } catch (RuntimeException | Error e) {
        broken.add(what + ": the client failed: " + e);
        running = false;
      }
    }
  }

  /**
   * From now on, each client updates its keys just after {@code key} (the first {@value
   * #FOCUS_WIDTH} of them), where another writer is at work, a rewrap say; a client whose keys are
   * all after it, only its first; one whose keys are all before it, any of them.
   */
  void focusOn(String key) {
    focus = key;
  }

  private KeyState choose(List<KeyState> keys, Random random) {
    String f = focus;
    if (f == null) {
      return keys.get(random.nextInt(keys.size()));
    }
    int from = 0;
    while (from < keys.size() && keys.get(from).key.compareTo(f) <= 0) {
      from++;
    }
    if (from == 0) {
      return keys.get(0); // the other writer has not come this far: leave the rest to it
    }
    if (from == keys.size()) {
      return keys.get(random.nextInt(keys.size())); // it is past them all
    }
    return keys.get(from + random.nextInt(Math.min(FOCUS_WIDTH, keys.size() - from)));
  }

  /** From now on, each client pauses this long after each call: a pace near the other writer's. */
  void pace(Duration pause) {
    pauseMillis = pause.toMillis();
  }

  /** After a failure, as clients do: a moment, not a spin on a proxy that fails at once. */
  private void backOff() {
    try {
      Thread.sleep(20);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      running = false;
    }
  }

  private void put(KeyState k) {
    long seq = ++k.attempted;
    try {
      var r =
          stub()
              .put(
                  PutRequest.newBuilder()
                      .setKey(bs(k.key))
                      .setValue(bs(value(k.key, seq)))
                      .build());
      checkAnswer("Put " + k.key, r.toByteString());
      k.acknowledge(seq, r.getHeader().getRevision());
      acknowledgedWrites.incrementAndGet();
    } catch (StatusRuntimeException e) {
      k.failedSince.add(seq);
      throw e;
    }
  }

  private void compareAndSwap(KeyState k) {
    long seq = ++k.attempted;
    TxnRequest txn =
        TxnRequest.newBuilder()
            .addCompare(
                Compare.newBuilder()
                    .setKey(bs(k.key))
                    .setTarget(Compare.CompareTarget.MOD)
                    .setResult(Compare.CompareResult.EQUAL)
                    .setModRevision(k.modRevision))
            .addSuccess(
                RequestOp.newBuilder()
                    .setRequestPut(
                        PutRequest.newBuilder().setKey(bs(k.key)).setValue(bs(value(k.key, seq)))))
            .addFailure(
                RequestOp.newBuilder().setRequestRange(RangeRequest.newBuilder().setKey(bs(k.key))))
            .build();
    TxnResponse r;
    try {
      r = stub().txn(txn);
    } catch (StatusRuntimeException e) {
      k.failedSince.add(seq);
      throw e;
    }
    checkAnswer("Txn on " + k.key, r.toByteString());
    if (r.getSucceeded()) {
      k.acknowledge(seq, r.getHeader().getRevision());
      acknowledgedWrites.incrementAndGet();
    } else {
      failedCompares.incrementAndGet();
      // Someone else wrote the key since (a rewrap; or a write of ours that failed and was
      // applied after all): the failure branch says what is there now.
      List<KeyValue> kvs = r.getResponses(0).getResponseRange().getKvsList();
      if (kvs.size() != 1) {
        broken.add("Txn on " + k.key + ": its failure branch read " + kvs.size() + " values");
        return;
      }
      check("Txn on " + k.key + " (failed compare)", k, kvs.get(0));
    }
  }

  private void read(KeyState k) {
    RangeResponse r = stub().range(RangeRequest.newBuilder().setKey(bs(k.key)).build());
    checkAnswer("Range " + k.key, r.toByteString());
    if (r.getKvsCount() != 1) {
      broken.add("Range " + k.key + ": " + r.getKvsCount() + " values, not 1");
      return;
    }
    check("Range " + k.key, k, r.getKvs(0));
  }

  private void readAll(Owned o) {
    ByteString start = bs(prefix + "c" + o.client() + "/");
    RangeResponse r =
        stub()
            .range(
                RangeRequest.newBuilder()
                    .setKey(start)
                    .setRangeEnd(EtcdKeys.prefixRangeEnd(start))
                    .build());
    checkAnswer("Range of client " + o.client() + "'s keys", r.toByteString());
    if (r.getKvsCount() != o.keys().size()) {
      broken.add(
          "Range of client " + o.client() + "'s keys: " + r.getKvsCount() + " of them, not all");
      return;
    }
    for (int i = 0; i < o.keys().size(); i++) {
      check("Range of client " + o.client() + "'s keys", o.keys().get(i), r.getKvs(i));
    }
  }

  /** {@code kv}, as read, is the key's last acknowledged value or one written since. */
  private void check(String what, KeyState k, KeyValue kv) {
    String key = kv.getKey().toStringUtf8();
    String value = kv.getValue().toStringUtf8();
    long seq = seq(k.key, value);
    if (!key.equals(k.key) || seq < 0) {
      broken.add(what + ": read " + key + " = " + abbreviated(value) + ", not a value written");
    } else if (!k.mayHold(seq)) {
      broken.add(
          what
              + ": read #"
              + seq
              + ", but #"
              + k.acknowledged
              + " was acknowledged (and "
              + k.failedSince
              + " failed since)");
    } else {
      k.saw(seq, kv.getModRevision());
    }
  }

  /** The sequence number of a value {@link #value} made for {@code key}, or -1. */
  private static long seq(String key, String value) {
    String head = value(key, 0);
    head = head.substring(0, head.length() - 1);
    if (!value.startsWith(head)) {
      return -1;
    }
    try {
      return Long.parseLong(value.substring(head.length()));
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private void checkAnswer(String what, ByteString answer) {
    if (Ciphertext.in(answer.toByteArray())) {
      broken.add(what + ": the answer carries ciphertext");
    }
  }

  private void failed(String what, Status s, long nanos) {
    failed.incrementAndGet();
    successesInARow.set(0);
    failures
        .computeIfAbsent(
            s.getCode() + ": " + abbreviated(withoutKeys(String.valueOf(s.getDescription()))),
            d -> new AtomicLong())
        .incrementAndGet();
    String brokenBy =
        nanos >= DEADLINE.toNanos() - TimeUnit.SECONDS.toNanos(1)
            ? "no answer within " + DEADLINE.toSeconds() + " s: " + s
            : promiseBrokenBy(s);
    if (brokenBy != null) {
      broken.add(what + ": " + brokenBy);
    }
  }

  /**
   * What promise a failed call's status breaks, or null: one short line with no stack trace and no
   * ciphertext, of a code that is not grpc-java's for an unhandled exception (UNKNOWN, or INTERNAL
   * that is not the proxy's own refusal).
   */
  static String promiseBrokenBy(Status s) {
    String description = String.valueOf(s.getDescription());
    if (s.getDescription() == null || s.getDescription().isBlank()) {
      return s.getCode() + " without a description";
    } else if (description.length() >= MAX_DESCRIPTION
        || description.contains("\n")
        || description.contains("\tat ")
        || description.contains("Exception:")
        || Ciphertext.in(description)) {
      return s.getCode() + " " + description;
    } else if (s.getCode() == Status.Code.UNKNOWN
        || (s.getCode() == Status.Code.INTERNAL && !description.startsWith(PROXY_REFUSAL))) {
      return s.getCode() + " (an unhandled error) " + description;
    }
    return null;
  }

  /** Calls made so far, failed or not. */
  long calls() {
    return calls.get();
  }

  /** Writes the proxy acknowledged so far. */
  long acknowledgedWrites() {
    return acknowledgedWrites.get();
  }

  /** Calls that failed so far. */
  long failed() {
    return failed.get();
  }

  /** Waits until {@code n} more calls have been made (answered or failed) from now. */
  void awaitCalls(String what, long n) {
    awaitMore(n + " more calls " + what, calls, n);
  }

  /** Waits until {@code n} more calls have failed from now: the fault is felt. */
  void awaitFailures(String what, long n) {
    awaitMore(n + " calls to fail " + what, failed, n);
  }

  /**
   * Waits until calls succeed again ({@code n} in a row), then until {@code n} more writes are
   * acknowledged, and asserts that no call failed meanwhile: after the fault, the proxy serves as
   * before.
   */
  void awaitRecovery(String what, long n) {
    awaitMore(n + " calls in a row to succeed " + what, successesInARow, n - successesInARow.get());
    long failedBefore = failed();
    awaitMore(n + " more writes acknowledged " + what, acknowledgedWrites, n);
    assertEquals(failedBefore, failed(), () -> "calls failed after recovery " + what + ": " + this);
  }

  /**
   * Waits until {@code counter} has grown by {@code n} (or a client stopped on a broken promise).
   */
  private void awaitMore(String what, AtomicLong counter, long n) {
    long target = counter.get() + n;
    Await.until(
        what + " (" + this + ")",
        Duration.ofSeconds(90),
        () -> counter.get() >= target || !running);
    assertNoBrokenPromise();
  }

  void assertNoBrokenPromise() {
    synchronized (broken) {
      assertTrue(
          broken.isEmpty(),
          () -> broken.size() + " broken promises:\n" + String.join("\n", broken));
    }
  }

  /**
   * Stops the clients and asserts, reading every key through {@code proxy} once more, that each
   * holds its last acknowledged value or one whose write failed since (no lost update).
   */
  void stopAndAssertNoLostUpdate(Supplier<Channel> proxy) throws InterruptedException {
    close();
    assertNoBrokenPromise();
    KVGrpc.KVBlockingStub reader =
        KVGrpc.newBlockingStub(proxy.get())
            .withDeadlineAfter(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
    ByteString start = bs(prefix);
    RangeResponse r =
        reader.range(
            RangeRequest.newBuilder()
                .setKey(start)
                .setRangeEnd(EtcdKeys.prefixRangeEnd(start))
                .build());
    assertFalse(Ciphertext.in(r.toByteArray()), "the final read carries ciphertext");
    Map<String, String> stored = new TreeMap<>();
    r.getKvsList()
        .forEach(kv -> stored.put(kv.getKey().toStringUtf8(), kv.getValue().toStringUtf8()));
    List<String> lost = new ArrayList<>();
    int keys = 0;
    for (Owned o : owned) {
      for (KeyState k : o.keys()) {
        keys++;
        String value = stored.get(k.key);
        long seq = value == null ? -1 : seq(k.key, value);
        if (!k.mayHold(seq)) {
          lost.add(
              k.key
                  + " holds "
                  + (value == null ? "nothing" : "#" + seq)
                  + ", but #"
                  + k.acknowledged
                  + " was acknowledged (and "
                  + k.failedSince
                  + " failed since)");
        }
      }
    }
    assertEquals(keys, stored.size(), "every key is there, and nothing else");
    assertTrue(lost.isEmpty(), () -> lost.size() + " lost updates:\n" + String.join("\n", lost));
  }

  /** Stops the clients and waits for them. */
  @Override
  public void close() throws InterruptedException {
    running = false;
    for (Thread t : threads) {
      t.join(DEADLINE.toMillis() + 10_000);
      assertFalse(t.isAlive(), t.getName() + " did not stop");
    }
  }

  @Override
  public String toString() {
    return calls()
        + " calls, "
        + acknowledgedWrites()
        + " writes acknowledged, "
        + failed()
        + " failed "
        + new TreeMap<>(failures)
        + ", "
        + failedCompares.get()
        + " compare-and-swaps found the key written by someone else";
  }

  /** {@code description} with what it quotes (keys) left out: failures summed by kind. */
  private static String withoutKeys(String description) {
    return description.replaceAll("\"[^\"]*\"", "\"...\"");
  }

  static ByteString bs(String s) {
    return ByteString.copyFromUtf8(s);
  }

  static String abbreviated(String s) {
    return s.length() > 120 ? s.substring(0, 120) + "..." : s;
  }
}
