package io.etcdcrypt.cli;

/**
 * Stops a server when the JVM is asked to end (SIGTERM from a supervisor, Ctrl-C) and then ends it
 * with status 0. The JVM's own status after a signal is 128 + the signal (143 for SIGTERM), which
 * Kubernetes and systemd report as a failure although the stop was asked for and went cleanly.
 * Installed as the last step of start-up, once nothing but serving can fail.
 */
final class StopOnSignal {

  private StopOnSignal() {}

  /** Runs {@code stop} when the JVM shuts down, then halts it with status 0. */
  static void install(String name, Runnable stop) {
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  stop.run();
                  System.out.flush();
                  System.err.flush();
                  // halt, not exit: exit would block, since the JVM is already shutting down.
                  Runtime.getRuntime().halt(0);
                },
                name));
  }
}
