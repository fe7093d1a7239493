package io.etcdcrypt.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The lines a running child process prints, read on a daemon thread into a queue, so that a test
 * waits for each line with a time limit instead of blocking in {@code readLine()} for ever when the
 * child prints nothing more.
 */
public final class OutputLines {

  /** Queued after the last line; compared by identity. */
  private static final String END = new String("<end of output>");

  private final BlockingQueue<String> queue = new LinkedBlockingQueue<>();
  private final List<String> taken = new CopyOnWriteArrayList<>();

  private OutputLines() {}

  /**
   * Starts reading {@code process}'s standard output (with standard error, when it is redirected
   * there).
   */
  public static OutputLines of(Process process) {
    OutputLines lines = new OutputLines();
    Thread reader = new Thread(() -> lines.read(process), "output-of-pid-" + process.pid());
    reader.setDaemon(true);
    reader.start();
    return lines;
  }

  private void read(Process process) {
    try (BufferedReader r =
        new BufferedReader(
            new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line = r.readLine(); line != null; line = r.readLine()) {
        queue.add(line);
      }
    } catch (IOException closed) {
      // the pipe closed under the reader (the process was destroyed): that ends the output too
    } finally {
      queue.add(END);
    }
  }

  /**
   * The next line, or null at the end of the output, as {@code readLine()} returns; fails, quoting
   * the lines taken so far, when none comes within {@code limit}.
   */
  public String next(Duration limit) throws InterruptedException {
    String line = queue.poll(limit.toMillis(), TimeUnit.MILLISECONDS);
    if (line == null) {
      throw new AssertionError(
          "the child printed no further line within "
              + limit.toSeconds()
              + " s; taken so far: "
              + taken);
    }
    if (line == END) {
      queue.add(END);
      return null;
    }
    taken.add(line);
    return line;
  }
}
