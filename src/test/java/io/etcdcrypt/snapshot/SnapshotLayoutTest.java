package io.etcdcrypt.snapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(10)
class SnapshotLayoutTest {

  private static byte[] revisionKey(long main, long sub, boolean tombstone) {
    ByteBuffer b = ByteBuffer.allocate(tombstone ? 18 : 17).order(ByteOrder.BIG_ENDIAN);
    b.putLong(main).put((byte) '_').putLong(sub);
    if (tombstone) {
      b.put((byte) 't');
    }
    return b.array();
  }

  @Test
  void revisionKeysAreEtcds() throws Exception {
    assertEquals(new Revision(258, 1, false), Revision.parse(revisionKey(258, 1, false)));
    assertEquals(new Revision(7, 0, true), Revision.parse(revisionKey(7, 0, true)));
    byte[] noSeparator = revisionKey(1, 0, false);
    noSeparator[8] = '-';
    assertThrows(SnapshotFormatException.class, () -> Revision.parse(noSeparator));
    byte[] badMark = revisionKey(1, 0, true);
    badMark[17] = 'x';
    assertThrows(SnapshotFormatException.class, () -> Revision.parse(badMark));
    assertThrows(
        SnapshotFormatException.class,
        () -> Revision.parse("finishedCompactRev".getBytes(StandardCharsets.US_ASCII)));
  }

  @Test
  void theIndexFindsWhatWasAddedAndRefusesDisorder() throws Exception {
    RevisionIndex index = new RevisionIndex();
    for (long main = 1; main <= 3000; main += 2) {
      index.add(new Revision(main, 0, false));
      index.add(new Revision(main, 1, main % 3 == 0));
    }
    assertEquals(3000, index.size());
    assertTrue(index.contains(new Revision(2999, 1, false)));
    assertTrue(index.contains(new Revision(1, 0, true)), "a deletion mark is not part of it");
    assertFalse(index.contains(new Revision(2, 0, false)));
    assertFalse(index.contains(new Revision(1, 2, false)));
    assertThrows(SnapshotFormatException.class, () -> index.add(new Revision(5, 0, false)));
  }

  @Test
  void metaChecksumIsGosFnv1a64() {
    ByteBuffer a = ByteBuffer.wrap("a".getBytes(StandardCharsets.US_ASCII));
    assertEquals(0xaf63dc4c8601ec8cL, BoltMeta.fnv1a64(a, 0, 1));
    assertEquals(0xcbf29ce484222325L, BoltMeta.fnv1a64(a, 0, 0));
  }
}
