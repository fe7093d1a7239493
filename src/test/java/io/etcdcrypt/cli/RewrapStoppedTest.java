package io.etcdcrypt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.ops.RewrapStats;
import io.etcdcrypt.ops.Rewrapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A run stopped before the end (Ctrl-C or SIGTERM: the signal hook stops the rewrapper) reports how
 * far it got. A dry run keeps no state file, and its report crashed with a NullPointerException
 * looking for one.
 */
class RewrapStoppedTest {

  @Test
  void aStoppedDryRunSaysNothingWasWritten() throws Exception {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code =
        new RewrapCommand()
            .report(
                null,
                List.of(),
                Rewrapper.Options.defaults().withDryRun(true),
                null,
                new RewrapStats(),
                Rewrapper.Outcome.STOPPED,
                new PrintWriter(out),
                new PrintWriter(err));
    assertEquals(3, code);
    assertTrue(
        out.toString().contains("stopped before the end (dry run: nothing was written)"),
        out.toString());
    assertEquals("", err.toString());
  }
}
