package io.etcdcrypt.observe;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the sources of the {@link ScrapedGauge}s on a thread of their own. A source may block: a
 * KMS health check whose cached result expired calls the plugin and waits up to the call timeout
 * when the plugin is down, which is exactly when the metrics matter. A scrape waits for the read at
 * most {@link #WAIT} and otherwise shows the values last read, so it never fails on Prometheus'
 * scrape timeout; the read goes on and the next scrape shows its outcome.
 */
final class ScrapedGauges implements AutoCloseable {

  /** How long a scrape waits for the sources; healthy sources answer from their caches at once. */
  static final Duration WAIT = Duration.ofMillis(250);

  private static final Logger log = LoggerFactory.getLogger(ScrapedGauges.class);

  private final List<ScrapedGauge> gauges = new CopyOnWriteArrayList<>();
  private final ExecutorService reader =
      Executors.newSingleThreadExecutor(
          r -> {
            Thread t = new Thread(r, "metrics-state");
            t.setDaemon(true);
            return t;
          });
  private Future<?> reading; // guarded by this

  void add(ScrapedGauge gauge) {
    gauges.add(gauge);
  }

  /** Starts a read (unless one runs) and waits for it up to {@link #WAIT}. */
  void refresh() {
    if (gauges.isEmpty()) {
      return;
    }
    Future<?> read;
    synchronized (this) {
      if (reading == null || reading.isDone()) {
        reading = reader.submit(this::readAll);
      }
      read = reading;
    }
    try {
      read.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      log.debug("a metrics source is slow; this scrape shows the values last read");
    } catch (ExecutionException e) {
      log.warn("reading the state metrics failed", e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void readAll() {
    for (ScrapedGauge gauge : gauges) {
      try {
        gauge.refresh();
      } catch (RuntimeException e) {
        // One broken source must not hide the others; its series keep their last values.
        log.warn("reading a state metric failed", e);
      }
    }
  }

  @Override
  public void close() {
    reader.shutdownNow();
  }
}
