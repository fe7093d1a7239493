package io.etcdcrypt.testing;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * Starts a jetcd watch and returns once etcd has created it, as its {@code created} response
 * (relayed by the proxy) shows: a write made before then would not be among its events, so a test
 * waits for this instead of sleeping and hoping. The listener sees what it would see without the
 * wait: the responses that carry events, never the creation notice.
 */
public final class CreatedWatch {

  private static final long LIMIT_SECONDS = 10;

  private CreatedWatch() {}

  /**
   * A created watch on {@code key}; errors after creation are ignored, as jetcd's own overload
   * does.
   */
  public static Watch.Watcher start(
      Client client, ByteSequence key, WatchOption.Builder option, Consumer<WatchResponse> onNext)
      throws InterruptedException {
    return start(client, key, option, onNext, error -> {});
  }

  /** A created watch on {@code key} whose errors after creation go to {@code onError}. */
  public static Watch.Watcher start(
      Client client,
      ByteSequence key,
      WatchOption.Builder option,
      Consumer<WatchResponse> onNext,
      Consumer<Throwable> onError)
      throws InterruptedException {
    CompletableFuture<Void> created = new CompletableFuture<>();
    Watch.Watcher watcher =
        client
            .getWatchClient()
            .watch(
                key,
                option.withCreateNotify(true).build(),
                r -> {
                  if (r.isCreatedNotify()) {
                    created.complete(null);
                  } else {
                    onNext.accept(r);
                  }
                },
                error -> {
                  if (!created.completeExceptionally(error)) {
                    onError.accept(error);
                  }
                });
    try {
      created.get(LIMIT_SECONDS, TimeUnit.SECONDS);
      return watcher;
    } catch (ExecutionException e) {
      watcher.close();
      throw new AssertionError(
          "the watch on " + key + " failed before it was created", e.getCause());
    } catch (TimeoutException e) {
      watcher.close();
      throw new AssertionError(
          "the watch on " + key + " was not created within " + LIMIT_SECONDS + " s");
    }
  }
}
