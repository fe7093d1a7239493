package io.etcdcrypt.crypto;

import com.google.protobuf.ByteString;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Values that arrive for storage already carrying kube-apiserver's {@code k8s:enc:} prefix: a
 * writer that encrypts itself (kube-apiserver with its own {@code --encryption-provider-config}
 * behind the proxy) or a tool re-writing raw values (a restore from a dump). The codec stores one
 * as it is when the configuration opens it, and refuses it when not; this class says so, to the
 * client (the refusal's message) and to the log (at most one line per outcome per {@link
 * #LOG_INTERVAL_NANOS}, however many arrive). Never a value, only its prefix, which names the
 * provider and key.
 */
final class AlreadyEncryptedWrites {

  private static final Logger log = LoggerFactory.getLogger(AlreadyEncryptedWrites.class);

  /** What kube-apiserver reserves for encrypted values on disk. */
  static final ByteString MARKER = ByteString.copyFromUtf8("k8s:enc:");

  static final long LOG_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);

  /** Longest prefix quoted: {@code k8s:enc:<provider>:<version>:<name>:}, names are short. */
  private static final int MAX_PREFIX = 96;

  private final Interval stored = new Interval();
  private final Interval refused = new Interval();

  /**
   * The value's {@code k8s:enc:<provider>:<version>:<name>:} prefix as printable text, cut at
   * {@value #MAX_PREFIX} characters or the first byte that is not printable ASCII.
   */
  static String prefixOf(ByteString value) {
    StringBuilder b = new StringBuilder("k8s:enc:");
    int colons = 0;
    for (int i = MARKER.size(); i < value.size() && colons < 3; i++) {
      int c = value.byteAt(i) & 0xff;
      if (c < 0x21 || c > 0x7e || b.length() >= MAX_PREFIX) {
        return b.append("...").toString();
      }
      b.append((char) c);
      if (c == ':') {
        colons++;
      }
    }
    return b.toString();
  }

  /**
   * The refusal of an already encrypted {@code value} for {@code key}: cause first, then what to
   * do, then the key ({@code why} is null unless a provider matched the prefix and failed).
   */
  static AlreadyEncryptedValueException refusal(
      ByteString key, ByteString value, String resource, boolean hasRule, String why) {
    String cause;
    String advice;
    if (!hasRule) {
      cause = "resource \"" + resource + "\" has no rule in the encryption configuration";
      advice = "send plaintext (do not encrypt in the writer) or add a rule that reads it";
    } else if (why == null) {
      cause = "nothing in the encryption configuration for \"" + resource + "\" reads that prefix";
      advice = "send plaintext (do not encrypt in the writer) or add the provider and key";
    } else {
      cause = "the encryption configuration for \"" + resource + "\" cannot open it";
      advice =
          "send plaintext (do not encrypt in the writer); a value opens only under its own key";
    }
    return new AlreadyEncryptedValueException(
        "already encrypted value ("
            + prefixOf(value)
            + ") refused: "
            + cause
            + ", nothing written; "
            + advice
            + "; key \""
            + key.toStringUtf8()
            + "\""
            + (why == null ? "" : ": " + why));
  }

  /** A value the configuration opens was stored as it is; logged at most once per interval. */
  void storedAsIs(ByteString key, String resource, ByteString value) {
    long count = stored.due();
    if (count > 0) {
      log.atWarn()
          .addKeyValue("key", key.toStringUtf8())
          .addKeyValue("resource", resource)
          .addKeyValue("transformer_prefix", prefixOf(value))
          .log(
              "stored {} value(s) that arrived already encrypted as they are, without a second"
                  + " layer, in the last {} s (the encryption configuration opens them; reads return"
                  + " their plaintext). The writer encrypts values itself: a kube-apiserver with its"
                  + " own --encryption-provider-config behind the proxy (remove the flag: exactly one"
                  + " of them encrypts), or a tool re-writing raw values from etcd or a dump",
              count,
              TimeUnit.NANOSECONDS.toSeconds(LOG_INTERVAL_NANOS));
    }
  }

  /** A value the configuration cannot open was refused; logged at most once per interval. */
  void refused(String resource, AlreadyEncryptedValueException e) {
    long count = refused.due();
    if (count > 0) {
      log.atWarn()
          .addKeyValue("resource", resource)
          .log(
              "refused {} write(s) of already encrypted values in the last {} s; the latest: {}",
              count,
              TimeUnit.NANOSECONDS.toSeconds(LOG_INTERVAL_NANOS),
              e.getMessage());
    }
  }

  /** Counts events and lets one through per interval, with the count since the last one. */
  private static final class Interval {
    private final AtomicLong count = new AtomicLong();
    private final AtomicLong last = new AtomicLong(System.nanoTime() - LOG_INTERVAL_NANOS);

    /** Counts one event; the events since the last report when one is due now, else 0. */
    long due() {
      long n = count.incrementAndGet();
      long now = System.nanoTime();
      long then = last.get();
      if (now - then >= LOG_INTERVAL_NANOS && last.compareAndSet(then, now)) {
        count.addAndGet(-n);
        return n;
      }
      return 0;
    }
  }
}
