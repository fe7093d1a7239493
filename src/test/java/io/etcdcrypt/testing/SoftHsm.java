package io.etcdcrypt.testing;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A SoftHSM2 token of its own in a temp dir: its {@code softhsm2.conf} points the token directory
 * there, the token is initialised with {@code softhsm2-util}, and a SunPKCS11 configuration and PIN
 * file for it are written.
 *
 * <p>SoftHSM reads {@code SOFTHSM2_CONF} from the environment of the process that loads it, which a
 * running JVM cannot change for itself; so code that uses the token runs in a child process started
 * with {@link #environment()}. When {@code softhsm2-util} is not installed the test is skipped
 * (loudly); CI installs it.
 */
public final class SoftHsm {

  public static final String PIN = "123456";
  private static final String[] LIBRARIES = {
    "/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so", "/usr/lib64/libsofthsm2.so"
  };

  private final Path dir;
  private final Path conf;
  private final Path pkcs11Config;
  private final Path pinFile;

  private SoftHsm(Path dir, Path conf, Path pkcs11Config, Path pinFile) {
    this.dir = dir;
    this.conf = conf;
    this.pkcs11Config = pkcs11Config;
    this.pinFile = pinFile;
  }

  /** Creates the token; fails when SoftHSM2 is not installed (scripts/test.sh installs it). */
  public static SoftHsm create(Path dir) throws IOException, InterruptedException {
    RealComponentsGuard.starting("SoftHSM2");
    String util = findOnPath("softhsm2-util");
    String library = null;
    for (String l : LIBRARIES) {
      if (Files.exists(Path.of(l))) {
        library = l;
      }
    }
    if (util == null || library == null) {
      throw new AssertionError(
          "SoftHSM2 is not installed (softhsm2-util "
              + (util == null ? "missing" : "found")
              + ", libsofthsm2.so "
              + (library == null ? "missing" : "found")
              + "): run the tests with scripts/test.sh,"
              + " which installs it, or apt-get install softhsm2");
    }
    Path tokens = Files.createDirectories(dir.resolve("tokens"));
    Path conf = dir.resolve("softhsm2.conf");
    Files.writeString(
        conf,
        "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\n");
    SoftHsm hsm = new SoftHsm(dir, conf, dir.resolve("pkcs11.cfg"), dir.resolve("pin"));
    String out =
        hsm.run(
            util,
            "--init-token",
            "--free",
            "--label",
            "etcd-crypt-test",
            "--pin",
            PIN,
            "--so-pin",
            "12345678");
    Matcher m = Pattern.compile("reassigned to slot (\\d+)").matcher(out);
    if (!m.find()) {
      throw new IOException("softhsm2-util did not report the token's slot: " + out);
    }
    Files.writeString(
        hsm.pkcs11Config, "name = SoftHSM\nlibrary = " + library + "\nslot = " + m.group(1) + "\n");
    Files.writeString(hsm.pinFile, PIN + "\n");
    return hsm;
  }

  /** The environment a process using this token needs. */
  public Map<String, String> environment() {
    return Map.of("SOFTHSM2_CONF", conf.toString());
  }

  public Path pkcs11Config() {
    return pkcs11Config;
  }

  public Path pinFile() {
    return pinFile;
  }

  public Path dir() {
    return dir;
  }

  /**
   * Runs {@code command} with this token's environment; its output goes to a file, read once it has
   * exited.
   */
  private String run(String... command) throws IOException, InterruptedException {
    Path log = Files.createTempFile(dir, "command", ".out");
    ProcessBuilder pb =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().putAll(environment());
    Process p = pb.start();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IOException(
          String.join(" ", command)
              + " did not finish within 60 s: "
              + new String(Files.readAllBytes(log), StandardCharsets.UTF_8));
    }
    String out = new String(Files.readAllBytes(log), StandardCharsets.UTF_8);
    if (p.exitValue() != 0) {
      throw new IOException(String.join(" ", command) + " failed: " + out);
    }
    return out;
  }

  private static String findOnPath(String name) {
    List<String> dirs =
        new ArrayList<>(
            List.of(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)));
    dirs.addAll(List.of("/usr/bin", "/usr/local/bin", "/usr/sbin"));
    for (String d : dirs) {
      if (!d.isEmpty() && Files.isExecutable(Path.of(d, name))) {
        return Path.of(d, name).toString();
      }
    }
    return null;
  }
}
