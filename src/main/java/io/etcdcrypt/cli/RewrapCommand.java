package io.etcdcrypt.cli;

import io.etcdcrypt.config.GroupResource;
import io.etcdcrypt.ops.Census;
import io.etcdcrypt.ops.CensusResult;
import io.etcdcrypt.ops.CodecSession;
import io.etcdcrypt.ops.EtcdAccessException;
import io.etcdcrypt.ops.EtcdSession;
import io.etcdcrypt.ops.KeyProblem;
import io.etcdcrypt.ops.OpsException;
import io.etcdcrypt.ops.ProgressReporter;
import io.etcdcrypt.ops.RewrapState;
import io.etcdcrypt.ops.RewrapStats;
import io.etcdcrypt.ops.RewrapTargets;
import io.etcdcrypt.ops.Rewrapper;
import io.etcdcrypt.ops.Scope;
import io.etcdcrypt.ops.Scopes;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code rewrap}: re-encrypt every stale value with the configuration's first provider and key. */
@Command(
    name = "rewrap",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    sortOptions = false,
    description = {
      "Rewrites every value that the first provider and key of its resource's rule did not write (an old key or"
          + " provider, plaintext of a resource that is now encrypted, an old KMS key id), reading and writing"
          + " etcd directly. Behind the proxy kube-apiserver only sees plaintext, so 'kubectl replace' cannot do"
          + " this.",
      "Each value is written back with Txn(MOD == the revision read): a concurrent update always wins and is"
          + " never overwritten. Progress is saved as it goes; a rerun continues where a stopped one ended. At the"
          + " end a census checks that nothing stale remains."
    },
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
      "0:nothing stale remains (checked by a census after the rewrite; for --dry-run: nothing to rewrite)",
      "1:stale or undecryptable values remain (listed: also those only a format without integrity opened),"
          + " or --dry-run found values to rewrite",
      "2:rewrap could not run or had to give up (configuration, KMS provider or etcd problem); progress is saved",
      "3:stopped early (--limit, or a signal); progress is saved, run again to continue"
    })
public final class RewrapCommand implements Callable<Integer> {

  private static final int LISTED_PROBLEMS = 20;

  @Spec CommandSpec spec;

  @Mixin EtcdToolOptions etcd;

  @Option(
      names = "--rate",
      defaultValue = "0",
      paramLabel = "N",
      description =
          "Rewrite at most N values per second (0: as fast as etcd takes them). Default: ${DEFAULT-VALUE}")
  double rate;

  @Option(names = "--dry-run", description = "Only count what would be rewritten; write nothing.")
  boolean dryRun;

  @Option(
      names = "--state-file",
      paramLabel = "FILE",
      description =
          "Where progress is saved. Default: $XDG_STATE_HOME/etcd-crypt-proxy/rewrap-state.json, or"
              + " etcd-crypt-proxy-rewrap-state.json in the working directory when XDG_STATE_HOME is not set.")
  Path stateFile;

  @Option(
      names = "--rewrite-unauthenticated",
      description =
          "Also rewrite stale values that only a format without integrity opened (aescbc, KMS v1's"
              + " AES-CBC fallback), if they read as Kubernetes objects. Such a format decrypts a corrupt"
              + " or moved value to garbage without an error; rewrapping would make that garbage"
              + " authentic, so by default they are listed and left as they are. Values that do not"
              + " read as Kubernetes objects are never rewritten.")
  boolean rewriteUnauthenticated;

  @Option(names = "--restart", description = "Ignore saved progress and scan everything again.")
  boolean restart;

  @Option(
      names = "--limit",
      defaultValue = "0",
      paramLabel = "N",
      description =
          "Stop after rewriting N values (0: no limit), e.g. to spread the work over maintenance"
              + " windows; a rerun continues. Default: ${DEFAULT-VALUE}")
  long limit;

  @Option(
      names = "--max-in-flight",
      defaultValue = "64",
      paramLabel = "N",
      description = "Writes outstanding at once. Default: ${DEFAULT-VALUE}")
  int maxInFlight;

  @Option(
      names = "--progress-interval",
      defaultValue = "10",
      paramLabel = "SECONDS",
      description =
          "When standard output is not a terminal, log progress this often. Default: ${DEFAULT-VALUE}")
  int progressIntervalSeconds;

  @Override
  public Integer call() throws InterruptedException {
    etcd.tool.log.apply();
    Logger log = LoggerFactory.getLogger(RewrapCommand.class);
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Rewrapper.Options options;
    try {
      options =
          Rewrapper.Options.defaults()
              .withRate(rate)
              .withDryRun(dryRun)
              .withRewriteUnauthenticated(rewriteUnauthenticated)
              .withLimit(limit)
              .withPageSize(etcd.pageSize)
              .withMaxInFlight(maxInFlight);
    } catch (IllegalArgumentException e) {
      err.println("rewrap: " + e.getMessage());
      err.flush();
      return 2;
    }
    try (EtcdSession session =
        etcd.open(dryRun ? CodecSession.Access.READ_ONLY : CodecSession.Access.READ_WRITE)) {
      List<Scope> scopes = Scopes.select(session.resolver(), session.config(), etcd.tool.resources);
      for (String name : etcd.tool.resources) {
        GroupResource gr = GroupResource.parse(name.trim());
        if (!gr.isWildcard() && session.config().providersFor(gr).isEmpty()) {
          log.warn(
              "--resources {}: the configuration has no rule for it, so its values stay plaintext and there"
                  + " is nothing to rewrap",
              name);
        }
      }
      RewrapState state = null;
      if (!dryRun) {
        Path file = stateFile != null ? stateFile : RewrapState.defaultFile(System.getenv());
        List<String> targets = RewrapTargets.of(session.config());
        state =
            restart
                ? RewrapState.fresh(file, session.resolver().prefix(), targets)
                : RewrapState.load(file, session.resolver().prefix(), targets);
      }
      return rewrap(session, scopes, options, state, out, err, log);
    } catch (OpsException | EtcdAccessException | IllegalArgumentException | IOException e) {
      err.println("rewrap: " + e.getMessage());
      err.flush();
      return 2;
    }
  }

  private int rewrap(
      EtcdSession session,
      List<Scope> scopes,
      Rewrapper.Options options,
      RewrapState state,
      PrintWriter out,
      PrintWriter err,
      Logger log)
      throws InterruptedException, IOException {
    Rewrapper rewrapper = new Rewrapper(session.codec(), session.channel(), options);
    RewrapStats stats = rewrapper.stats();
    CountDownLatch ended = new CountDownLatch(1);
    // On SIGINT/SIGTERM: take up no new value, let sent writes complete, save progress, then let
    // the JVM exit.
    Thread onSignal =
        new Thread(
            () -> {
              rewrapper.stop();
              try {
                ended.await(30, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            },
            "rewrap-stop");
    Runtime.getRuntime().addShutdownHook(onSignal);
    ScheduledExecutorService saver = Executors.newSingleThreadScheduledExecutor();
    if (state != null) {
      RewrapState s = state;
      saver.scheduleWithFixedDelay(
          () -> {
            try {
              s.save();
            } catch (IOException e) {
              log.warn("cannot save rewrap progress to {}: {}", s.file(), e.getMessage());
            }
          },
          1,
          1,
          TimeUnit.SECONDS);
    }
    // The signal hook waits until the outcome is printed, so a stopped run always says so.
    try {
      Rewrapper.Outcome outcome;
      ProgressReporter progress =
          System.console() != null
              ? ProgressReporter.bar(stats, System.out)
              : ProgressReporter.logLines(
                  stats, Duration.ofSeconds(Math.max(1, progressIntervalSeconds)));
      try {
        outcome = rewrapper.run(scopes, state);
      } finally {
        progress.close();
        saver.shutdownNow();
        saver.awaitTermination(5, TimeUnit.SECONDS);
        if (state != null) {
          state.save();
        }
      }
      return report(session, scopes, options, state, stats, outcome, out, err);
    } finally {
      ended.countDown();
      try {
        Runtime.getRuntime().removeShutdownHook(onSignal);
      } catch (IllegalStateException shuttingDown) {
        // the hook is running: it only waited for us
      }
    }
  }

  /** Prints the outcome of a run and returns the exit code. */
  int report(
      EtcdSession session,
      List<Scope> scopes,
      Rewrapper.Options options,
      RewrapState state,
      RewrapStats stats,
      Rewrapper.Outcome outcome,
      PrintWriter out,
      PrintWriter err)
      throws IOException, InterruptedException {
    out.println(summary(stats, options.dryRun()));
    if (outcome == Rewrapper.Outcome.STOPPED) {
      out.println(
          state == null
              ? "stopped before the end (dry run: nothing was written); run it again to count"
                  + " everything"
              : "stopped before the end; progress is saved in "
                  + state.file()
                  + ": run rewrap again to continue");
      out.flush();
      return 3;
    }
    if (options.dryRun()) {
      listProblems(stats.problems(), stats.undecryptable() + stats.failed(), err);
      sayUnauthenticated(stats, out, err);
      out.println(
          stats.stale() == 0 && stats.undecryptable() == 0
              ? "dry run: nothing to rewrite"
              : "dry run: " + stats.stale() + " values would be rewritten, nothing was written");
      out.flush();
      return stats.stale() == 0 && stats.undecryptable() == 0 && stats.unauthenticated() == 0
          ? 0
          : 1;
    }
    sayUnauthenticated(stats, out, err);
    state.delete(); // the pass went over everything: a rerun must check everything again
    CensusResult check =
        new Census(session.codec(), session.channel(), options.pageSize(), options.callTimeout())
            .run(scopes);
    if (check.staleCount() == 0 && check.undecryptableCount() == 0) {
      out.println(
          "verified by a census at revision " + check.revision() + ": nothing stale remains");
      out.flush();
      return 0;
    }
    listProblems(check.undecryptable(), check.undecryptableCount(), err);
    if (check.staleCount() > 0) {
      List<String> keys = check.staleKeys();
      keys.subList(0, Math.min(LISTED_PROBLEMS, keys.size()))
          .forEach(k -> err.println("still stale: " + k));
      if (check.staleCount() > Math.min(LISTED_PROBLEMS, keys.size())) {
        err.println(
            "... and "
                + (check.staleCount() - Math.min(LISTED_PROBLEMS, keys.size()))
                + " more stale");
      }
    }
    err.flush();
    out.println(
        "census at revision " + check.revision() + " after the rewrite: " + check.summary());
    if (check.staleCount() > 0) {
      out.println(
          "values still stale were written after this run passed them (by a kube-apiserver or proxy"
              + " still using an older configuration?) or could not be rewritten; run rewrap again once every writer"
              + " uses the new configuration");
    }
    out.flush();
    return 1;
  }

  private static void sayUnauthenticated(RewrapStats stats, PrintWriter out, PrintWriter err) {
    if (stats.unauthenticated() > 0) {
      listProblems(stats.unauthenticatedKeys(), stats.unauthenticated(), err);
      out.println(
          stats.unauthenticated()
              + " stale values were opened by aescbc or KMS v1's AES-CBC fallback, which do not"
              + " authenticate, and were left as they are (listed): check them (census, a read"
              + " through the proxy), then run rewrap --rewrite-unauthenticated");
    }
  }

  private static void listProblems(List<KeyProblem> problems, long total, PrintWriter err) {
    problems.stream().limit(LISTED_PROBLEMS).forEach(p -> err.println("problem: " + p));
    long listed = Math.min(LISTED_PROBLEMS, problems.size());
    if (total > listed) {
      err.println("... and " + (total - listed) + " more");
    }
    err.flush();
  }

  static String summary(RewrapStats s, boolean dryRun) {
    double seconds = s.elapsedSeconds();
    String head =
        String.format(
            Locale.ROOT,
            "rewrap%s: %d keys read in %.1f s (%.0f/s)",
            dryRun ? " (dry run)" : "",
            s.examined(),
            seconds,
            seconds > 0 ? s.examined() / seconds : 0);
    if (dryRun) {
      return head
          + String.format(
              Locale.ROOT,
              ": %d stale, %d current, %d undecryptable, %d left unauthenticated, %d not covered",
              s.stale(),
              s.current(),
              s.undecryptable(),
              s.unauthenticated(),
              s.passedOver());
    }
    return head
        + String.format(
            Locale.ROOT,
            ": %d rewritten, %d already current, %d updated by clients meanwhile, %d deleted meanwhile,"
                + " %d undecryptable, %d not rewritten, %d left unauthenticated, %d not covered (other"
                + " resources or no rule); %d write conflicts retried",
            s.rewritten(),
            s.current(),
            s.updatedConcurrently(),
            s.deletedConcurrently(),
            s.undecryptable(),
            s.failed(),
            s.unauthenticated(),
            s.passedOver(),
            s.conflicts());
  }
}
