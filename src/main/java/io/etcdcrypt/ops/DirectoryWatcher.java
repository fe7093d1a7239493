package io.etcdcrypt.ops;

import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.LinkedHashSet;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Calls back when anything changes in the directories a file lives in: the directory of the path as
 * given, and the directory of the file the path finally points to. Watching directories rather than
 * the file catches every way a file gets replaced: an editor's rename-over, and Kubernetes' Secret
 * and ConfigMap volumes, which swap a {@code ..data} symlink so that {@code enc.yaml ->
 * ..data/enc.yaml} points into a new directory while the file {@code enc.yaml} itself never
 * changes. The callback only learns that something changed; it decides what.
 */
final class DirectoryWatcher implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(DirectoryWatcher.class);

  private final WatchService watcher;
  private final Thread thread;

  private DirectoryWatcher(WatchService watcher, Runnable onChange) {
    this.watcher = watcher;
    this.thread = new Thread(() -> loop(onChange), "config-watch");
    thread.setDaemon(true);
  }

  static DirectoryWatcher start(Path file, Runnable onChange) throws IOException {
    Set<Path> dirs = new LinkedHashSet<>();
    Path absolute = file.toAbsolutePath();
    dirs.add(absolute.getParent());
    try {
      dirs.add(absolute.toRealPath().getParent());
    } catch (IOException e) {
      // the file does not exist (yet): its directory is watched, and polling covers the rest
    }
    WatchService watcher = FileSystems.getDefault().newWatchService();
    try {
      for (Path dir : dirs) {
        if (Files.isDirectory(dir)) {
          dir.register(
              watcher,
              StandardWatchEventKinds.ENTRY_CREATE,
              StandardWatchEventKinds.ENTRY_MODIFY,
              StandardWatchEventKinds.ENTRY_DELETE);
        }
      }
    } catch (IOException | RuntimeException e) {
      watcher.close();
      throw e;
    }
    DirectoryWatcher w = new DirectoryWatcher(watcher, onChange);
    w.thread.start();
    return w;
  }

  private void loop(Runnable onChange) {
    while (true) {
      WatchKey key;
      try {
        key = watcher.take();
      } catch (InterruptedException | ClosedWatchServiceException e) {
        return;
      }
      key.pollEvents(); // which entry changed does not matter: the file's content decides
      key.reset();
      try {
        onChange.run();
      } catch (RuntimeException e) {
        log.warn("handling a change of the configuration directory failed: {}", e.toString());
      }
    }
  }

  @Override
  public void close() {
    try {
      watcher.close();
    } catch (IOException e) {
      log.debug("closing the directory watch: {}", e.toString());
    }
    thread.interrupt();
  }
}
