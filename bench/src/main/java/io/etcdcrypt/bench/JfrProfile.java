package io.etcdcrypt.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordingFile;

/**
 * Where a proxy's CPU goes, from a JFR recording ({@code --jfr TARGET}): the execution samples
 * aggregated by the top frame's component (self time), by the proxy's own steps (inclusive: a
 * sample counts for every step on its stack), and the hottest methods. Written as Markdown next to
 * the recording, so a result that misses a target comes with the profile that explains it.
 *
 * <pre>java -cp ... io.etcdcrypt.bench.JfrProfile recording.jfr out.md "title"</pre>
 */
final class JfrProfile {

  /**
   * Self time by component: the first prefix of the top frame's class that matches. Order matters.
   */
  private static final Map<String, String> COMPONENTS = new LinkedHashMap<>();

  static {
    COMPONENTS.put("com.sun.crypto.", "JCE crypto (AES, GCM, HMAC)");
    COMPONENTS.put("javax.crypto.", "JCE crypto (AES, GCM, HMAC)");
    COMPONENTS.put("sun.security.", "JCE crypto (AES, GCM, HMAC)");
    COMPONENTS.put("org.bouncycastle.", "BouncyCastle (XSalsa20-Poly1305)");
    COMPONENTS.put("com.google.protobuf.", "protobuf");
    COMPONENTS.put("io.etcdcrypt.", "etcd-crypt-proxy's own code");
    COMPONENTS.put("io.micrometer.", "metrics (Micrometer, Prometheus client)");
    COMPONENTS.put("io.prometheus.", "metrics (Micrometer, Prometheus client)");
    COMPONENTS.put("io.grpc.netty.shaded.io.netty.", "Netty (HTTP/2, buffers, epoll)");
    COMPONENTS.put("io.grpc.", "grpc-java");
    COMPONENTS.put("java.", "JDK (collections, copies, strings)");
    COMPONENTS.put("jdk.", "JDK (collections, copies, strings)");
    COMPONENTS.put("sun.", "JDK (collections, copies, strings)");
  }

  /** The proxy's steps, inclusive: a sample counts when the frame is anywhere on its stack. */
  private static final Map<String, String> STEPS = new LinkedHashMap<>();

  static {
    STEPS.put(
        "io.etcdcrypt.crypto.EncryptionCodec.fromStorage",
        "decrypt a value (codec: resolve, chain, metrics)");
    STEPS.put(
        "io.etcdcrypt.crypto.EncryptionCodec.toStorage",
        "encrypt a value (codec: resolve, chain, metrics)");
    STEPS.put(
        "io.etcdcrypt.crypto.PrefixTransformers.decryptDetailed",
        "  of which the provider's decrypt");
    STEPS.put(
        "io.etcdcrypt.crypto.PrefixTransformers.encrypt", "  of which the provider's encrypt");
    STEPS.put(
        "io.etcdcrypt.config.ResourceResolver.resolve", "  of which key -> resource resolution");
    STEPS.put(
        "io.etcdcrypt.observe.TransformMetrics.transformed", "  of which transformation metrics");
    STEPS.put(
        "io.etcdcrypt.values.WireRangeOpener.open", "Range response scan and rewrite (wire level)");
    STEPS.put(
        "io.etcdcrypt.values.RangeResponseBytes$Marshaller.parse",
        "Range response read from the transport");
    STEPS.put("io.etcdcrypt.proxy.Relay", "the relay (transform + send, both directions)");
    STEPS.put(
        "io.grpc.protobuf.lite.ProtoLiteUtils$MessageMarshaller.parse",
        "protobuf parse of parsed messages");
    STEPS.put("io.grpc.internal.MessageFramer.writePayload", "gRPC framing of outgoing messages");
    STEPS.put(
        "io.grpc.netty.shaded.io.grpc.netty.NettyServerHandler",
        "Netty HTTP/2, client side connection");
    STEPS.put(
        "io.grpc.netty.shaded.io.grpc.netty.NettyClientHandler",
        "Netty HTTP/2, etcd side connection");
    STEPS.put("io.grpc.netty.shaded.io.netty.channel.epoll.Native", "epoll / socket system calls");
    STEPS.put(
        "io.grpc.netty.shaded.io.netty.channel.epoll.LinuxSocket", "epoll / socket system calls");
  }

  private JfrProfile() {}

  public static void main(String[] args) throws IOException {
    if (args.length < 2) {
      System.err.println("usage: JfrProfile recording.jfr out.md [title]");
      System.exit(2);
    }
    write(Path.of(args[0]), Path.of(args[1]), args.length > 2 ? args[2] : args[0]);
  }

  /** Summarises {@code recording} into {@code out}. */
  static void write(Path recording, Path out, String title) throws IOException {
    int samples = 0;
    Map<String, Integer> components = new HashMap<>();
    Map<String, Integer> steps = new HashMap<>();
    Map<String, Integer> methods = new HashMap<>();
    Map<String, Integer> threads = new HashMap<>();
    for (RecordedEvent e : RecordingFile.readAllEvents(recording)) {
      if (!e.getEventType().getName().equals("jdk.ExecutionSample")) {
        continue;
      }
      RecordedStackTrace stack = e.getStackTrace();
      if (stack == null || stack.getFrames().isEmpty()) {
        continue;
      }
      samples++;
      List<RecordedFrame> frames = stack.getFrames();
      String top = name(frames.get(0));
      components.merge(component(top), 1, Integer::sum);
      methods.merge(top, 1, Integer::sum);
      threads.merge(threadGroup(e), 1, Integer::sum);
      Set<String> seen = new HashSet<>();
      for (RecordedFrame f : frames) {
        String n = name(f);
        for (Map.Entry<String, String> step : STEPS.entrySet()) {
          if (n.startsWith(step.getKey()) && seen.add(step.getValue())) {
            steps.merge(step.getValue(), 1, Integer::sum);
          }
        }
      }
    }
    StringBuilder md = new StringBuilder();
    md.append("# Profile: ").append(title).append("\n\n");
    md.append("From `")
        .append(recording.getFileName())
        .append("` (JFR `settings=profile`, jdk.ExecutionSample): ")
        .append(samples)
        .append(
            " samples of Java code on the proxy's threads. Percentages are of all samples.\n\n");
    table(md, "Self time by component (top frame)", components, samples, 20, false);
    md.append("Steps of the proxy (inclusive; indented rows are part of the row above):\n\n");
    md.append("| step | samples |\n|---|--:|\n");
    for (String step : new java.util.LinkedHashSet<>(STEPS.values())) {
      md.append("| ")
          .append(step.replace("  ", "&nbsp;&nbsp;&nbsp;"))
          .append(" | ")
          .append(percent(steps.getOrDefault(step, 0), samples))
          .append(" |\n");
    }
    md.append('\n');
    table(md, "Threads", threads, samples, 10, false);
    table(md, "Hottest methods (self)", methods, samples, 25, true);
    Files.writeString(out, md.toString());
  }

  private static void table(
      StringBuilder md,
      String title,
      Map<String, Integer> counts,
      int total,
      int limit,
      boolean code) {
    md.append(title).append(":\n\n| | samples |\n|---|--:|\n");
    counts.entrySet().stream()
        .sorted(Map.Entry.<String, Integer>comparingByValue().reversed())
        .limit(limit)
        .forEach(
            en ->
                md.append("| ")
                    .append(code ? "`" + en.getKey() + "`" : en.getKey())
                    .append(" | ")
                    .append(percent(en.getValue(), total))
                    .append(" |\n"));
    md.append('\n');
  }

  private static String percent(int n, int total) {
    return total == 0 ? "0" : String.format("%.1f %%", 100.0 * n / total);
  }

  private static String name(RecordedFrame f) {
    return f.getMethod().getType().getName() + "." + f.getMethod().getName();
  }

  private static String component(String method) {
    for (Map.Entry<String, String> c : COMPONENTS.entrySet()) {
      if (method.startsWith(c.getKey())) {
        return c.getValue();
      }
    }
    return "other";
  }

  /**
   * Thread names without their numbers: {@code proxy-event-loop-4-1} becomes {@code
   * proxy-event-loop}.
   */
  private static String threadGroup(RecordedEvent e) {
    var thread = e.getThread("sampledThread");
    String n = thread == null || thread.getJavaName() == null ? "?" : thread.getJavaName();
    return n.replaceAll("[-#]?\\d+(-\\d+)*$", "");
  }
}
