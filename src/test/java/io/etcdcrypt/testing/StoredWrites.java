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
                for (WatchEvent e : r.getEvents()) {
                  if (e.getEventType() == WatchEvent.EventType.PUT) {
                    puts.add(
                        new Put(
                            e.getKeyValue().getKey().toString(),
                            e.getKeyValue().getValue().getBytes()));
                  }
                }
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
