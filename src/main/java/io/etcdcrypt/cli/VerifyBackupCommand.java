package io.etcdcrypt.cli;

import io.etcdcrypt.ops.CodecSession;
import io.etcdcrypt.ops.OpsException;
import io.etcdcrypt.ops.ProxyCheck;
import io.etcdcrypt.ops.ResourceSelection;
import io.etcdcrypt.ops.Scopes;
import io.etcdcrypt.ops.backup.BackupReport;
import io.etcdcrypt.ops.backup.BackupVerifier;
import io.etcdcrypt.ops.backup.SnapshotDownload;
import io.etcdcrypt.ops.backup.SnapshotRotation;
import io.etcdcrypt.proxy.Endpoint;
import io.etcdcrypt.proxy.TlsFiles;
import io.etcdcrypt.proxy.Upstream;
import io.etcdcrypt.snapshot.EtcdSnapshot;
import io.etcdcrypt.snapshot.SnapshotFormatException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
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
      "With --endpoints instead of a file, streams a snapshot from that etcd member (etcd itself: a proxy is"
          + " refused) and verifies it; --save keeps it as etcdctl snapshot save would.",
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
      arity = "0..1",
      paramLabel = "SNAPSHOT",
      description =
          "The snapshot file: what etcdctl snapshot save wrote, or a member's member/snap/db. Without it,"
              + " --endpoints names the etcd member to take a snapshot from.")
  Path snapshot;

  @Mixin ConfigToolOptions tool;

  @Mixin EtcdClientOptions etcd;

  @Option(
      names = "--save",
      paramLabel = "FILE",
      description =
          "With --endpoints: keep the snapshot in FILE, as etcdctl snapshot save writes it (with etcd's"
              + " SHA-256 checksum). Without it, the snapshot goes to a temporary file that is deleted.")
  Path save;

  @Option(
      names = "--save-dir",
      paramLabel = "DIR",
      description =
          "With --endpoints: keep the snapshot in DIR as etcd-snapshot-<UTC time>.db (as --save keeps it).")
  Path saveDir;

  @Option(
      names = "--keep",
      defaultValue = "0",
      paramLabel = "N",
      description =
          "With --save-dir: once a snapshot verifies (exit 0), delete all but the N newest etcd-snapshot-*.db"
              + " in DIR (0: keep every one). A snapshot that fails deletes none. Default: ${DEFAULT-VALUE}")
  int keep;

  @Option(
      names = "--snapshot-timeout",
      defaultValue = "600",
      paramLabel = "SECONDS",
      description = "How long the snapshot stream from etcd may take. Default: ${DEFAULT-VALUE}")
  int snapshotTimeoutSeconds;

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
    boolean live = spec.commandLine().getParseResult().hasMatchedOption("--endpoints");
    if (live == (snapshot != null)) {
      return fail(
          err,
          EXIT_ERROR,
          "give either a SNAPSHOT file or --endpoints of the etcd member to take one from");
    }
    if ((save != null || saveDir != null) && !live) {
      return fail(err, EXIT_ERROR, "--save and --save-dir go with --endpoints");
    }
    if (save != null && saveDir != null) {
      return fail(err, EXIT_ERROR, "give --save or --save-dir, not both");
    }
    if (keep < 0 || (keep > 0 && saveDir == null)) {
      return fail(err, EXIT_ERROR, "--keep takes a number of files and goes with --save-dir");
    }
    Path temporary = null;
    try (CodecSession codecs = tool.openCodecsToRead()) {
      Scopes.select(codecs.resolver(), codecs.config(), tool.resources); // checks the names
      Path file = snapshot;
      if (live) {
        if (saveDir != null) {
          file = SnapshotRotation.fileFor(saveDir, Instant.now());
        } else if (save != null) {
          file = save;
        } else {
          file = temporary = Files.createTempFile("etcd-snapshot-", ".db");
        }
        download(file);
      }
      BackupVerifier verifier =
          new BackupVerifier(codecs.codec(), ResourceSelection.of(tool.resources));
      BackupReport report;
      try (EtcdSnapshot snap = EtcdSnapshot.open(file)) {
        report = verifier.verify(file.toString(), snap, allRevisions);
        if (nothingUnderPrefix(report, codecs, snap)) {
          return fail(
              err,
              EXIT_ERROR,
              file
                  + " holds nothing under --etcd-prefix "
                  + codecs.resolver().prefix()
                  + ": give kube-apiserver's --etcd-prefix (default /registry)");
        }
      } catch (NoSuchFileException e) {
        return fail(err, EXIT_UNREADABLE_FILE, "cannot read " + file + ": no such file");
      } catch (IOException e) {
        return fail(err, EXIT_UNREADABLE_FILE, "cannot read " + file + ": " + e.getMessage());
      } catch (SnapshotFormatException e) {
        return fail(err, EXIT_UNREADABLE_FILE, file + ": " + e.getMessage());
      }
      if (output == Output.JSON) {
        out.println(report.toJson());
      } else {
        report.toText().forEach(out::println);
      }
      out.flush();
      if (keep > 0 && report.outcome() == BackupReport.Outcome.OK) {
        for (Path old : SnapshotRotation.prune(saveDir, keep)) {
          err.println("verify-backup: deleted " + old + " (--keep " + keep + ")");
        }
        err.flush();
      }
      return report.outcome().exitCode();
    } catch (OpsException | IllegalArgumentException e) {
      return fail(err, EXIT_ERROR, e.getMessage());
    } catch (IOException e) {
      return fail(err, EXIT_ERROR, "cannot write or rotate the snapshot files: " + e.getMessage());
    } finally {
      deleteQuietly(temporary);
    }
  }

  /**
   * Whether no object at all is stored under the prefix: with --resources, an empty selection is
   * checked again over every resource, since a selected resource may rightly have no objects.
   */
  private boolean nothingUnderPrefix(BackupReport report, CodecSession codecs, EtcdSnapshot snap)
      throws IOException, SnapshotFormatException {
    if (report.latest().values() > 0 || report.deletedKeys() > 0) {
      return false;
    }
    if (tool.resources.isEmpty()) {
      return true;
    }
    BackupReport every =
        new BackupVerifier(codecs.codec(), ResourceSelection.all()).verify("", snap, false);
    return every.latest().values() == 0 && every.deletedKeys() == 0;
  }

  /** Streams a snapshot from the one member --endpoints names, after making sure it is etcd. */
  private void download(Path file) throws OpsException, IOException {
    List<Endpoint> members;
    TlsFiles tls = etcd.tls();
    try {
      members = etcd.members();
      tls.channelCredentials(); // checks the files now, with the flag names in the message
    } catch (IllegalArgumentException | UncheckedIOException e) {
      throw new OpsException(e.getMessage(), e);
    }
    if (members.size() != 1) {
      throw new OpsException(
          "a snapshot is taken from one member: give exactly one endpoint in --endpoints");
    }
    try (Upstream upstream = new Upstream(members, tls, etcd.maxRecvBytes)) {
      ProxyCheck.refuseProxy(upstream.channel(), etcd.endpoints, Duration.ofSeconds(10));
      SnapshotDownload.save(
          upstream.channel(), file, Duration.ofSeconds(Math.max(1, snapshotTimeoutSeconds)));
    }
  }

  private static void deleteQuietly(Path file) {
    if (file != null) {
      try {
        Files.deleteIfExists(file);
      } catch (IOException e) {
        // a temporary file in the temporary directory: nothing to do about it
      }
    }
  }

  private static int fail(PrintWriter err, int code, String message) {
    err.println("verify-backup: " + message);
    err.flush();
    return code;
  }
}
