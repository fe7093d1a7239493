package io.etcdcrypt.cli;

import io.etcdcrypt.ops.CodecSession;
import io.etcdcrypt.ops.OpsException;
import io.etcdcrypt.ops.ResourceSelection;
import io.etcdcrypt.ops.Scopes;
import io.etcdcrypt.ops.backup.BackupReport;
import io.etcdcrypt.ops.backup.BackupVerifier;
import io.etcdcrypt.snapshot.EtcdSnapshot;
import io.etcdcrypt.snapshot.SnapshotFormatException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code verify-backup}: can this etcd snapshot be restored and read, and what does it expose? */
@Command(
    name = "verify-backup",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    sortOptions = false,
    description = {
      "Reads an etcd snapshot file (etcdctl snapshot save, or a stopped member's member/snap/db) directly,"
          + " without etcd, and checks it against the EncryptionConfiguration: for the latest revision of every"
          + " key (what a restore serves) it counts, per resource, the values stored as plaintext, under each"
          + " provider and key and under each KMS v2 key id, as census does on a live cluster, and lists every"
          + " value no configured provider can open. Only the configuration's KMS plugins are contacted, once"
          + " per data key or seed.",
      "With --all-revisions it also reads every older revision still in the file and names the keys whose"
          + " history holds plaintext of an encrypted resource or values only a retired key opens.",
      "Prints keys, labels and reasons, never a value or key material. --output json is documented in"
          + " docs/operations.md."
    },
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
      "0:every latest value decrypts and none is plaintext where the configuration encrypts",
      "1:some latest values cannot be decrypted with the configuration (a restore would not serve them)",
      "2:usage error, or verify-backup could not run (configuration, KMS provider or etcd problem)",
      "3:plaintext where the configuration encrypts (latest values; with --all-revisions, older ones too)",
      "4:the file cannot be read, is not an etcd snapshot, or is corrupt or truncated"
    })
public final class VerifyBackupCommand implements Callable<Integer> {

  static final int EXIT_ERROR = 2;
  static final int EXIT_UNREADABLE_FILE = 4;

  /** How the report is printed. */
  enum Output {
    TEXT,
    JSON
  }

  @Spec CommandSpec spec;

  @Parameters(
      index = "0",
      paramLabel = "SNAPSHOT",
      description =
          "The snapshot file: what etcdctl snapshot save wrote, or a member's member/snap/db.")
  Path snapshot;

  @Mixin ConfigToolOptions tool;

  @Option(
      names = "--output",
      defaultValue = "text",
      description = "text or json. Default: ${DEFAULT-VALUE}")
  Output output;

  @Option(
      names = "--all-revisions",
      description =
          "Also read every older revision still in the file (until etcd compacts and defragments, a"
              + " snapshot keeps them).")
  boolean allRevisions;

  @Override
  public Integer call() throws InterruptedException {
    tool.log.apply();
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    try (CodecSession codecs = tool.openCodecs()) {
      Scopes.select(codecs.resolver(), tool.resources); // checks the names
      BackupVerifier verifier =
          new BackupVerifier(codecs.codec(), ResourceSelection.of(tool.resources));
      BackupReport report;
      try (EtcdSnapshot snap = EtcdSnapshot.open(snapshot)) {
        report = verifier.verify(snapshot.toString(), snap, allRevisions);
      } catch (NoSuchFileException e) {
        return fail(err, EXIT_UNREADABLE_FILE, "cannot read " + snapshot + ": no such file");
      } catch (IOException e) {
        return fail(err, EXIT_UNREADABLE_FILE, "cannot read " + snapshot + ": " + e.getMessage());
      } catch (SnapshotFormatException e) {
        return fail(err, EXIT_UNREADABLE_FILE, snapshot + ": " + e.getMessage());
      }
      if (output == Output.JSON) {
        out.println(report.toJson());
      } else {
        report.toText().forEach(out::println);
      }
      out.flush();
      return report.outcome().exitCode();
    } catch (OpsException | IllegalArgumentException e) {
      return fail(err, EXIT_ERROR, e.getMessage());
    }
  }

  private static int fail(PrintWriter err, int code, String message) {
    err.println("verify-backup: " + message);
    err.flush();
    return code;
  }
}
