package io.etcdcrypt.kmsplugin;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.cli.Main;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Clock;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class KeyFileKekStoreTest {

  @TempDir Path dir;

  private static String key(int fill) {
    byte[] k = new byte[32];
    java.util.Arrays.fill(k, (byte) fill);
    return Base64.getEncoder().encodeToString(k);
  }

  @Test
  void theLastKeyIsCurrentAndEveryKeyUnwraps() throws Exception {
    Path f = dir.resolve("keks");
    Files.writeString(f, "# comment\n\nold: " + key(1) + "\n  new : " + key(2) + "  \n");
    KeyFileKekStore store = KeyFileKekStore.open(f);
    assertEquals("new", store.ring().current().id());
    assertEquals(Set.of("old", "new"), store.ring().ids());
    byte[] wrapped = WrappedKey.wrap(store.ring().get("old"), new byte[] {1, 2, 3});
    assertEquals("old", WrappedKey.kekId(wrapped));
    assertArrayEquals(new byte[] {1, 2, 3}, new KeyWrapper(store).unwrap(wrapped, null));
    assertFalse(store.reload(), "an unchanged file is not re-parsed");
  }

  @Test
  void malformedFilesAreRejectedWithTheLineAndWithoutTheKey() throws Exception {
    String secret = key(3);
    assertRejected("a: " + secret + "\na: " + key(4) + "\n", "appears twice", secret);
    assertRejected("a: " + secret.substring(4) + "\n", "line 1", secret.substring(4));
    assertRejected("ok: " + secret + "\nbad key: " + key(4) + "\n", "line 2", secret);
    assertRejected("a " + secret + "\n", "expected '<id>: <base64 key>'", secret);
    assertRejected("a: %%%%\n", "not valid standard base64", "%%%%");
    assertRejected("# only comments\n", "no KEK", null);
  }

  private void assertRejected(String content, String expected, String mustNotAppear)
      throws IOException {
    Path f = dir.resolve("bad-" + System.nanoTime());
    Files.writeString(f, content);
    IOException e = assertThrows(IOException.class, () -> KeyFileKekStore.open(f));
    assertTrue(e.getMessage().contains(expected), e.getMessage());
    if (mustNotAppear != null) {
      assertFalse(e.getMessage().contains(mustNotAppear), "key material in: " + e.getMessage());
    }
  }

  @Test
  void generateKeyCreatesAPrivateFileAndAppendsNewCurrentKeys() throws Exception {
    Path f = dir.resolve("sub/keks");
    String first = KeyFileKekStore.generateKey(f, null, Clock.systemUTC());
    assertTrue(first.startsWith("kek-"), first);
    assertEquals(
        Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE),
        Files.getPosixFilePermissions(f));
    String second = KeyFileKekStore.generateKey(f, null, Clock.systemUTC());
    assertFalse(first.equals(second));
    assertEquals(second, KeyFileKekStore.open(f).ring().current().id());
    assertThrows(IOException.class, () -> KeyFileKekStore.generateKey(f, first, Clock.systemUTC()));
  }

  @Test
  void theCliGeneratesKeys() throws Exception {
    Path f = dir.resolve("keks");
    StringWriter out = new StringWriter();
    CommandLine cl = Main.commandLine();
    cl.setOut(new PrintWriter(out));
    cl.getSubcommands().get("kms-plugin").setOut(new PrintWriter(out));
    cl.getSubcommands()
        .get("kms-plugin")
        .getSubcommands()
        .get("generate-key")
        .setOut(new PrintWriter(out));
    assertEquals(
        0, cl.execute("kms-plugin", "generate-key", "--key-file", f.toString(), "--id", "first"));
    assertEquals("first", out.toString().strip());
    assertEquals("first", KeyFileKekStore.open(f).ring().current().id());

    StringWriter err = new StringWriter();
    CommandLine cl2 = Main.commandLine();
    cl2.setErr(new PrintWriter(err));
    cl2.getSubcommands().get("kms-plugin").setErr(new PrintWriter(err));
    assertEquals(2, cl2.execute("kms-plugin", "--key-file", f.toString()));
    assertTrue(err.toString().contains("--listen"), err.toString());
  }

  @Test
  void labelsSortNaturally() {
    List<String> labels =
        new java.util.ArrayList<>(List.of("kek-10", "kek-9", "kek-1", "kek-2b", "kek-2a"));
    labels.sort(Pkcs11KekStore.NATURAL_ORDER);
    assertEquals(List.of("kek-1", "kek-2a", "kek-2b", "kek-9", "kek-10"), labels);
  }
}
