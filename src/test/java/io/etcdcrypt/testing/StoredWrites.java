package io.etcdcrypt.testing;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchEvent;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Every value an etcd member stores, as a watch of its whole keyspace made straight to it (past any
 * proxy) sees it written: for checking what clients' writes through the proxy became in etcd,
 * deleted keys included. A watch that has caught up keeps every write even when the member compacts
 * its history.
 */
public final class StoredWrites implements AutoCloseable {

  /** One key-value as a put stored it. */
  public record Put(String key, byte[] value) {
    public String valueText() {
      return new String(value, StandardCharsets.ISO_8859_1);
    }
  }

  private static final ByteSequence ALL = ByteSequence.from(new byte[] {0});

  private final Client client;
  private final Watch.Watcher watcher;
  private final List<Put> puts = new ArrayList<>();
  private long seenRevision;

  private StoredWrites(Client client) throws InterruptedException {
    this.client = client;
    this.seenRevision = currentRevision();
    this.watcher =
        CreatedWatch.start(
            client,
            ALL,
            WatchOption.builder().withRange(ALL),
            r -> {
              synchronized (this) {
                r.getEvents().forEach(e -> addIfPut(puts, e));
                seenRevision = Math.max(seenRevision, r.getHeader().getRevision());
              }
            });
  }

  /**
   * Fails unless {@code puts} stored something under {@code keyPrefix} and every value stored there
   * starts with {@code valuePrefix} (a provider's prefix: encrypted).
   */
  public static void assertAllStoredAs(List<Put> puts, String keyPrefix, String valuePrefix) {
    List<Put> under = puts.stream().filter(p -> p.key().startsWith(keyPrefix)).toList();
    if (under.isEmpty()) {
      throw new AssertionError("nothing was stored under " + keyPrefix);
    }
    for (Put p : under) {
      if (!p.valueText().startsWith(valuePrefix)) {
        String v = p.valueText();
        throw new AssertionError(
            p.key()
                + " is stored as \""
                + (v.length() > 40 ? v.substring(0, 40) + "..." : v)
                + "\", not under "
                + valuePrefix);
      }
    }
  }

  /**
   * Every put {@code etcd} has stored since {@code fromRevision}, as a watch replaying its history
   * (past any proxy) sees them: unlike {@link #of}, this also covers what was written while the
   * member was down and restarted, since etcd keeps its history until it compacts it (the test
   * members never do). Returns once the replay has reached the member's revision now.
   */
  public static List<Put> history(EtcdProcess etcd, long fromRevision) {
    Client client =
        Client.builder().endpoints(etcd.clientUrl()).maxInboundMessageSize(64 << 20).build();
    List<Put> puts = new ArrayList<>();
    CompletableFuture<Void> replayed = new CompletableFuture<>();
    try {
      long now = client.getKVClient().get(ALL).get(30, TimeUnit.SECONDS).getHeader().getRevision();
      if (now < fromRevision) {
        return puts;
      }
      // Every revision is a write with at least one event in the whole keyspace: the replay has
      // reached "now" once an event of that revision arrived.
      try (Watch.Watcher w =
          client
              .getWatchClient()
              .watch(
                  ALL,
                  WatchOption.builder().withRange(ALL).withRevision(fromRevision).build(),
                  r -> {
                    synchronized (puts) {
                      for (WatchEvent e : r.getEvents()) {
                        addIfPut(puts, e);
                        if (e.getKeyValue().getModRevision() >= now) {
                          replayed.complete(null);
                        }
                      }
                    }
                  },
                  replayed::completeExceptionally)) {
        Await.join("etcd's history up to revision " + now, Duration.ofSeconds(60), replayed);
      }
      synchronized (puts) {
        return new ArrayList<>(puts);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted reading etcd's history", e);
    } catch (ExecutionException | TimeoutException e) {
      throw new AssertionError("cannot read etcd's history at " + etcd.endpoint(), e);
    } finally {
      client.close();
    }
  }

  private static void addIfPut(List<Put> puts, WatchEvent e) {
    if (e.getEventType() == WatchEvent.EventType.PUT) {
      puts.add(new Put(e.getKeyValue().getKey().toString(), e.getKeyValue().getValue().getBytes()));
    }
  }

  /** Starts watching everything {@code etcd} stores from now on. */
  public static StoredWrites of(EtcdProcess etcd) {
    Client client =
        Client.builder().endpoints(etcd.clientUrl()).maxInboundMessageSize(64 << 20).build();
    try {
      return new StoredWrites(client);
    } catch (InterruptedException | RuntimeException | Error e) {
      client.close();
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      throw new AssertionError("cannot watch etcd at " + etcd.endpoint(), e);
    }
  }

  /**
   * The puts stored since the last call, once the watch has seen every write up to the member's
   * revision now.
   */
  public List<Put> takeAll() {
    long revision = currentRevision();
    Await.until(
        "the raw watch to see revision " + revision,
        Duration.ofSeconds(30),
        () -> seen() >= revision);
    synchronized (this) {
      List<Put> taken = new ArrayList<>(puts);
      puts.clear();
      return taken;
    }
  }

  private long currentRevision() {
    try {
      return client.getKVClient().get(ALL).get(30, TimeUnit.SECONDS).getHeader().getRevision();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted reading the member's revision", e);
    } catch (ExecutionException | TimeoutException e) {
      throw new AssertionError("cannot read the member's revision", e);
    }
  }

  private synchronized long seen() {
    return seenRevision;
  }

  @Override
  public void close() {
    watcher.close();
    client.close();
  }
}
