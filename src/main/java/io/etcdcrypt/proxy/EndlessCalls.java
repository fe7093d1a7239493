package io.etcdcrypt.proxy;

import io.grpc.Context;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The calls that never end by themselves: watches, lease keep-alives and election observers. On
 * shutdown they are ended at once with UNAVAILABLE, which etcd's clients answer by re-creating them
 * (a watch resumes from its last revision) once a proxy answers again; the shutdown grace is for
 * calls that finish, and would only delay a restart if it waited for these.
 */
final class EndlessCalls {

  private static final Set<String> METHODS =
      Set.of(
          "etcdserverpb.Watch/Watch",
          "etcdserverpb.Lease/LeaseKeepAlive",
          "v3electionpb.Election/Observe");

  private final Set<Runnable> enders = ConcurrentHashMap.newKeySet();
  private volatile boolean ending;

  static boolean isEndless(String fullMethodName) {
    return METHODS.contains(fullMethodName);
  }

  /**
   * Remembers how to end the call being started; must run inside the call's {@link Context}, whose
   * cancellation (when the call completes, either way) forgets it again.
   */
  void register(Runnable end) {
    enders.add(end);
    Context.current().addListener(context -> enders.remove(end), Runnable::run);
    if (ending) {
      end.run(); // started while the server was shutting down
    }
  }

  /** Ends every running endless call, and any that starts from now on. */
  void endAll() {
    ending = true;
    enders.forEach(Runnable::run);
  }
}
