package io.etcdcrypt.cli;

import io.etcdcrypt.ops.Census;
import io.etcdcrypt.ops.CensusResult;
import io.etcdcrypt.ops.CodecSession;
import io.etcdcrypt.ops.EtcdAccessException;
import io.etcdcrypt.ops.EtcdSession;
import io.etcdcrypt.ops.KeyProblem;
import io.etcdcrypt.ops.OpsException;
import io.etcdcrypt.ops.Scopes;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code census}: how is every stored value kept, per resource? */
@Command(
    name = "census",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    sortOptions = false,
    description = {
      "Reads every key under --etcd-prefix straight from etcd (at one revision, page by page) and counts, per"
          + " resource, the values stored as plaintext (identity), under each provider and key"
          + " (k8s:enc:aesgcm:v1:key1:), under each KMS v2 key id, and those no configured provider can open"
          + " (undecryptable). Writes nothing.",
      "With --output json: {\"<resource>\": {\"<prefix, identity or undecryptable>\": count}}, resources named as"
          + " in the configuration (secrets, deployments.apps)."
    },
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
      "0:every value can be read",
      "1:some values cannot be read with the configuration (listed on standard error)",
      "2:census could not run (configuration, KMS provider or etcd problem; see standard error)"
    })
public final class CensusCommand implements Callable<Integer> {

  /** How the counts are printed. */
  enum Output {
    TABLE,
    JSON
  }

  @Spec CommandSpec spec;

  @Mixin EtcdToolOptions etcd;

  @Option(
      names = "--output",
      defaultValue = "table",
      description = "table or json. Default: ${DEFAULT-VALUE}")
  Output output;

  @Override
  public Integer call() throws InterruptedException {
    etcd.tool.log.apply();
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    CensusResult result;
    try (EtcdSession session = etcd.open(CodecSession.Access.READ_ONLY)) {
      result =
          new Census(
                  session.codec(), session.channel(), etcd.pageSize, EtcdToolOptions.CALL_TIMEOUT)
              .run(Scopes.select(session.resolver(), session.config(), etcd.tool.resources));
    } catch (OpsException | EtcdAccessException | IllegalArgumentException e) {
      err.println("census: " + e.getMessage());
      err.flush();
      return 2;
    }
    if (output == Output.JSON) {
      out.println(result.toJson());
    } else {
      result.toTable().forEach(out::println);
      out.println();
      out.println(result.summary());
    }
    out.flush();
    for (KeyProblem p : result.undecryptable()) {
      err.println("undecryptable: " + p);
    }
    if (result.undecryptableCount() > result.undecryptable().size()) {
      err.println(
          "... and " + (result.undecryptableCount() - result.undecryptable().size()) + " more");
    }
    err.flush();
    return result.undecryptableCount() > 0 ? 1 : 0;
  }
}
