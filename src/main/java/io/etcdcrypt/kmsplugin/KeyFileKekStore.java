package io.etcdcrypt.kmsplugin;

import io.etcdcrypt.crypto.AesGcm;
import io.etcdcrypt.crypto.TransformException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * KEKs kept in a local file, one per line:
 *
 * <pre>
 * # etcd-crypt-proxy KMS plugin keys. The LAST key is current; older ones only unwrap.
 * kek-20250101T000000Z: 3q2+7w...base64 of 32 random bytes...=
 * kek-20250401T000000Z: AAECAwQF...=
 * </pre>
 *
 * <p>Blank lines and lines starting with {@code #} are ignored. An id is 1-128 characters of {@code
 * A-Z a-z 0-9 . _ -}; a key is the standard base64 of exactly 32 bytes (AES-256). The last line is
 * the current KEK: appending a line (for instance with {@code kms-plugin generate-key --key-file
 * F}) rotates, and the plugin picks it up on its next reload poll without a restart. Keep old lines
 * as long as any etcd value may still be wrapped by them. The file holds secrets: keep it {@code
 * 0600} and owned by the plugin's user (a looser mode is logged as a warning).
 */
public final class KeyFileKekStore implements KekStore {

  private static final Logger log = LoggerFactory.getLogger(KeyFileKekStore.class);
  private static final int KEY_SIZE = 32;

  private final Path file;
  private volatile KekRing ring;
  private byte[] loadedDigest;

  private KeyFileKekStore(Path file) {
    this.file = file;
  }

  /** Opens the file; fails with a message naming the line when it is malformed. */
  public static KeyFileKekStore open(Path file) throws IOException {
    KeyFileKekStore store = new KeyFileKekStore(file);
    store.reload();
    return store;
  }

  @Override
  public KekRing ring() {
    return ring;
  }

  @Override
  public synchronized boolean reload() throws IOException {
    byte[] content = Files.readAllBytes(file);
    byte[] digest = sha256(content);
    if (loadedDigest != null && Arrays.equals(digest, loadedDigest)) {
      return false;
    }
    warnIfReadableByOthers();
    KekRing parsed = parse(new String(content, StandardCharsets.UTF_8));
    KekRing previous = ring;
    ring = parsed;
    loadedDigest = digest;
    if (previous != null) {
      log.info(
          "KMS plugin key file {} reloaded: current KEK {} (was {}), {} KEKs",
          file,
          parsed.current().id(),
          previous.current().id(),
          parsed.ids().size());
    }
    return true;
  }

  KekRing parse(String text) throws IOException {
    List<Kek> keks = new ArrayList<>();
    String[] lines = text.split("\r?\n", -1);
    for (int i = 0; i < lines.length; i++) {
      String line = lines[i].strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      int colon = line.indexOf(':');
      if (colon < 0) {
        throw malformed(i, "expected '<id>: <base64 key>'");
      }
      String id = line.substring(0, colon).strip();
      String encoded = line.substring(colon + 1).strip();
      if (!KekRing.ID_PATTERN.matcher(id).matches()) {
        throw malformed(
            i,
            "the id must be 1-128 characters of A-Z a-z 0-9 . _ - starting with a letter or digit");
      }
      byte[] key;
      try {
        key = Base64.getDecoder().decode(encoded);
      } catch (IllegalArgumentException e) {
        throw malformed(i, "the key of '" + id + "' is not valid standard base64");
      }
      if (key.length != KEY_SIZE) {
        throw malformed(
            i,
            "the key of '" + id + "' is " + key.length + " bytes; KEKs must be 32 bytes (AES-256)");
      }
      keks.add(new FileKek(id, key));
      Arrays.fill(key, (byte) 0);
    }
    try {
      return new KekRing(keks);
    } catch (IllegalArgumentException e) {
      throw new IOException("KMS plugin key file " + file + ": " + e.getMessage());
    }
  }

  private IOException malformed(int lineIndex, String what) {
    return new IOException(
        "KMS plugin key file " + file + ", line " + (lineIndex + 1) + ": " + what);
  }

  private void warnIfReadableByOthers() {
    try {
      Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
      if (perms.contains(PosixFilePermission.GROUP_READ)
          || perms.contains(PosixFilePermission.OTHERS_READ)) {
        log.warn(
            "KMS plugin key file {} is readable by group or others; restrict it: chmod 600 {}",
            file,
            file);
      }
    } catch (IOException | UnsupportedOperationException e) {
      // not a POSIX file system: nothing to check
    }
  }

  @Override
  public String describe() {
    return "key file " + file;
  }

  /**
   * Appends a new random KEK to {@code file} (created {@code 0600} if missing) and returns its id,
   * which becomes the current KEK. The default id is {@code kek-<UTC time>}.
   */
  public static String generateKey(Path file, String requestedId, Clock clock) throws IOException {
    KekRing existing = null;
    if (Files.exists(file)) {
      existing = open(file).ring();
    }
    String id = requestedId;
    if (id == null) {
      String base =
          "kek-"
              + DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'")
                  .withZone(ZoneOffset.UTC)
                  .format(clock.instant());
      id = base;
      for (int n = 2; existing != null && existing.get(id) != null; n++) {
        id = base + "-" + n;
      }
    }
    if (!KekRing.ID_PATTERN.matcher(id).matches()) {
      throw new IOException(
          "KEK id '" + id + "' is invalid: use 1-128 characters of A-Z a-z 0-9 . _ -");
    }
    if (existing != null && existing.get(id) != null) {
      throw new IOException("KEK id '" + id + "' already exists in " + file + "; pick another id");
    }
    byte[] key = new byte[KEY_SIZE];
    new SecureRandom().nextBytes(key);
    StringBuilder line = new StringBuilder();
    if (existing == null) {
      line.append("# etcd-crypt-proxy KMS plugin keys: '<id>: <base64 of 32 bytes>' per line.\n")
          .append(
              "# The LAST key is current (wraps new DEKs); older keys only unwrap. Keep this file 0600.\n");
      Path parent = file.toAbsolutePath().getParent();
      if (parent != null) {
        Files.createDirectories(parent);
      }
      Files.createFile(file);
      try {
        Files.setPosixFilePermissions(
            file, Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE));
      } catch (UnsupportedOperationException e) {
        // not POSIX
      }
    } else {
      String content = Files.readString(file);
      if (!content.isEmpty() && !content.endsWith("\n")) {
        line.append('\n');
      }
    }
    line.append(id).append(": ").append(Base64.getEncoder().encodeToString(key)).append('\n');
    Arrays.fill(key, (byte) 0);
    Files.writeString(file, line, StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.APPEND);
    return id;
  }

  private static byte[] sha256(byte[] content) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(content);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A KEK held in memory, used through the project's AES-GCM. */
  private static final class FileKek implements Kek {
    private final String id;
    private final AesGcm gcm;

    FileKek(String id, byte[] key) {
      this.id = id;
      this.gcm = AesGcm.forKey(key);
    }

    @Override
    public String id() {
      return id;
    }

    @Override
    public byte[] seal(byte[] plaintext, byte[] associatedData) throws TransformException {
      return gcm.seal(plaintext, associatedData);
    }

    @Override
    public byte[] open(byte[] sealed, byte[] associatedData) throws TransformException {
      return gcm.open(sealed, associatedData);
    }

    @Override
    public String toString() {
      return "FileKek[" + id + ", key redacted]";
    }
  }
}
