package io.etcdcrypt.testing;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * etcd's Go client running the named scenarios of {@code testenv/goclient} against one endpoint;
 * its standard output is the transcript, which must not depend on whether the endpoint is etcd or
 * the proxy in front of an equal etcd. Built by {@code testenv/build.sh} once per client release.
 */
public enum GoClient {
  /** client/v3 v3.7.4 from the Go module proxy. */
  V3_7("goclient-3.7"),
  /** clientv3 of Debian's etcd 3.4 sources (golang-etcd-server-dev). */
  V3_4("goclient-3.4");

  /** A scenario gives up after 60 s on its own (and prints why); this is the margin above that. */
  private static final Duration LIMIT = Duration.ofSeconds(75);

  private final String fixture;

  GoClient(String fixture) {
    this.fixture = fixture;
  }

  /**
   * Runs {@code scenarios} against {@code endpoint} ({@code host:port}); the transcript is the
   * standard output.
   */
  public Command.Result run(String endpoint, String... scenarios) {
    RealComponentsGuard.starting(fixture);
    List<String> command =
        new ArrayList<>(List.of(Testenv.require(fixture).toString(), "-endpoint", endpoint));
    command.addAll(List.of(scenarios));
    return Command.run(LIMIT, command);
  }

  @Override
  public String toString() {
    return fixture;
  }
}
