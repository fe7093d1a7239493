package io.etcdcrypt.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.MessageLite;
import io.etcdcrypt.etcd.etcdserverpb.Compare;
import io.etcdcrypt.etcd.etcdserverpb.DeleteRangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RequestOp;
import io.etcdcrypt.etcd.etcdserverpb.TxnRequest;
import io.etcdcrypt.etcd.mvccpb.KeyValue;
import io.etcdcrypt.etcd.v3electionpb.ElectionGrpc;
import io.etcdcrypt.etcd.v3electionpb.LeaderKey;
import io.etcdcrypt.etcd.v3electionpb.LeaderRequest;
import io.etcdcrypt.etcd.v3electionpb.ProclaimRequest;
import io.etcdcrypt.testing.Ciphertext;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.ProxyExtension;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.TestCodecs;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A seeded wire fuzzer of the unary methods that carry values (issue 19 item 12, its first part):
 * valid requests over protected keys, mutated (bits flipped, cut, bytes inserted, unknown fields
 * appended), and random bytes, sent to the proxy as raw bytes. Whatever the proxy answers, the
 * promises hold, checked from outside it: no call ends with grpc-java's UNKNOWN for an unhandled
 * exception, hangs, or carries a stack trace; no answer carries ciphertext; every protected value
 * in etcd is encrypted. A fixed seed per method makes a failure reproducible.
 */
@RealComponents
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class WireFuzzTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  @RegisterExtension
  static final ProxyExtension proxy = new ProxyExtension(etcd, TestCodecs.secretsUnderAesGcm());

  private static final int INPUTS_PER_METHOD = 400;
  private static final String PROTECTED = "/registry/secrets/";

  private static ByteString bs(String s) {
    return ByteString.copyFromUtf8(s);
  }

  /** Valid requests of each method, over protected keys: the fuzzer's seeds. */
  private static Map<MethodDescriptor<?, ?>, List<MessageLite>> seeds() {
    ByteString key = bs(PROTECTED + "fuzz/s1");
    PutRequest put =
        PutRequest.newBuilder().setKey(key).setValue(bs("plaintext value")).setPrevKv(true).build();
    RangeRequest range =
        RangeRequest.newBuilder()
            .setKey(bs(PROTECTED))
            .setRangeEnd(bs("/registry/secrets0"))
            .setSortTarget(RangeRequest.SortTarget.VALUE)
            .build();
    TxnRequest txn =
        TxnRequest.newBuilder()
            .addCompare(
                Compare.newBuilder()
                    .setKey(key)
                    .setTarget(Compare.CompareTarget.VALUE)
                    .setResult(Compare.CompareResult.EQUAL)
                    .setValue(bs("plaintext value")))
            .addSuccess(RequestOp.newBuilder().setRequestPut(put))
            .addFailure(RequestOp.newBuilder().setRequestRange(range))
            .build();
    Map<MethodDescriptor<?, ?>, List<MessageLite>> seeds =
        new TreeMap<>((a, b) -> a.getFullMethodName().compareTo(b.getFullMethodName()));
    seeds.put(KVGrpc.getPutMethod(), List.of(put));
    seeds.put(KVGrpc.getRangeMethod(), List.of(range));
    seeds.put(KVGrpc.getTxnMethod(), List.of(txn));
    seeds.put(
        KVGrpc.getDeleteRangeMethod(),
        List.of(DeleteRangeRequest.newBuilder().setKey(key).setPrevKv(true).build()));
    LeaderKey leader =
        LeaderKey.newBuilder().setName(bs(PROTECTED + "fuzz/election")).setKey(key).build();
    seeds.put(
        ElectionGrpc.getProclaimMethod(),
        List.of(
            ProclaimRequest.newBuilder().setLeader(leader).setValue(bs("leader value")).build()));
    seeds.put(
        ElectionGrpc.getLeaderMethod(),
        List.of(LeaderRequest.newBuilder().setName(bs(PROTECTED + "fuzz/election")).build()));
    return seeds;
  }

  /** One fuzzed input: a seed mutated one to three times, or (one in eight) random bytes. */
  private static byte[] fuzzed(SplittableRandom random, List<MessageLite> seeds) {
    if (random.nextInt(8) == 0) {
      byte[] noise = new byte[random.nextInt(64)];
      random.nextBytes(noise);
      return noise;
    }
    byte[] b = seeds.get(random.nextInt(seeds.size())).toByteArray();
    for (int m = 1 + random.nextInt(3); m > 0; m--) {
      b = mutated(random, b);
    }
    return b;
  }

  private static byte[] mutated(SplittableRandom random, byte[] b) {
    switch (random.nextInt(4)) {
      case 0 -> { // flip a bit
        if (b.length > 0) {
          b = b.clone();
          b[random.nextInt(b.length)] ^= (byte) (1 << random.nextInt(8));
        }
        return b;
      }
      case 1 -> { // cut
        return Arrays.copyOf(b, b.length == 0 ? 0 : random.nextInt(b.length));
      }
      case 2 -> { // insert random bytes
        int at = b.length == 0 ? 0 : random.nextInt(b.length + 1);
        byte[] inserted = new byte[1 + random.nextInt(8)];
        random.nextBytes(inserted);
        byte[] out = new byte[b.length + inserted.length];
        System.arraycopy(b, 0, out, 0, at);
        System.arraycopy(inserted, 0, out, at, inserted.length);
        System.arraycopy(b, at, out, at + inserted.length, b.length - at);
        return out;
      }
      default -> { // append an unknown field (number 15 to 2000, varint or bytes)
        int field = 15 + random.nextInt(1986);
        boolean varint = random.nextBoolean();
        ByteString.Output out = ByteString.newOutput();
        try {
          out.write(b);
          CodedOutputStream coded = CodedOutputStream.newInstance(out);
          if (varint) {
            coded.writeUInt64(field, random.nextLong());
          } else {
            byte[] payload = new byte[random.nextInt(16)];
            random.nextBytes(payload);
            coded.writeByteArray(field, payload);
          }
          coded.flush();
        } catch (IOException e) {
          throw new AssertionError(e);
        }
        return out.toByteString().toByteArray();
      }
    }
  }

  @Test
  void fuzzedRequestsBreakNoPromise() throws Exception {
    List<String> broken = new ArrayList<>();
    Map<Status.Code, Integer> outcomes = new TreeMap<>();
    long seed = 20261205L;
    for (Map.Entry<MethodDescriptor<?, ?>, List<MessageLite>> e : seeds().entrySet()) {
      String method = e.getKey().getFullMethodName();
      SplittableRandom random = new SplittableRandom(seed ^ method.hashCode());
      for (int i = 0; i < INPUTS_PER_METHOD; i++) {
        byte[] input = fuzzed(random, e.getValue());
        String where = method + " input " + i + " (seed " + seed + ")";
        Status.Code code = send(e.getKey(), input, where, broken);
        outcomes.merge(code, 1, Integer::sum);
      }
    }
    System.out.println("fuzzed outcomes: " + outcomes);
    assertTrue(broken.isEmpty(), broken.size() + " broken promises:\n" + String.join("\n", broken));

    // No plaintext at rest: read from etcd itself, every protected value is encrypted.
    List<KeyValue> stored =
        KVGrpc.newBlockingStub(proxy.toEtcd())
            .withDeadlineAfter(30, TimeUnit.SECONDS)
            .range(
                RangeRequest.newBuilder()
                    .setKey(bs(PROTECTED))
                    .setRangeEnd(bs("/registry/secrets0"))
                    .build())
            .getKvsList();
    assertFalse(stored.isEmpty(), "fuzzed writes stored protected values");
    for (KeyValue kv : stored) {
      assertTrue(
          kv.getValue().isEmpty() || kv.getValue().startsWith(ByteString.copyFrom(Ciphertext.MARK)),
          "plaintext at rest under " + kv.getKey().toStringUtf8());
    }
    // The proxy serves on, and a write through it reads back.
    KVGrpc.KVBlockingStub kv =
        KVGrpc.newBlockingStub(proxy.toProxy()).withDeadlineAfter(30, TimeUnit.SECONDS);
    kv.put(PutRequest.newBuilder().setKey(bs(PROTECTED + "after/x")).setValue(bs("x")).build());
    assertEquals(
        bs("x"),
        kv.range(RangeRequest.newBuilder().setKey(bs(PROTECTED + "after/x")).build())
            .getKvs(0)
            .getValue());
    assertTrue(outcomes.getOrDefault(Status.Code.OK, 0) > 0, "some inputs were valid: " + outcomes);
  }

  /** Sends {@code input} as one request of {@code method}; records what breaks a promise. */
  private static Status.Code send(
      MethodDescriptor<?, ?> method, byte[] input, String where, List<String> broken) {
    MethodDescriptor<InputStream, InputStream> raw =
        ProxiedMethod.rawDescriptor(method.getFullMethodName(), method.getType());
    ClientCall<InputStream, InputStream> call =
        proxy.toProxy().newCall(raw, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS));
    try (InputStream answer =
        ClientCalls.blockingUnaryCall(call, new ByteArrayInputStream(input))) {
      if (Ciphertext.in(answer.readAllBytes())) {
        broken.add(where + ": the answer carries ciphertext");
      }
      return Status.Code.OK;
    } catch (StatusRuntimeException e) {
      Status s = e.getStatus();
      String description = String.valueOf(s.getDescription());
      // UNKNOWN alone is etcd's own answer to some (its election server's "election: no leader");
      // grpc-java's words for an exception the proxy did not handle are the broken promise.
      if ((s.getCode() == Status.Code.UNKNOWN
              && (s.getDescription() == null
                  || description.startsWith("Application error processing RPC")))
          || s.getCode() == Status.Code.DEADLINE_EXCEEDED
          || description.contains("\tat ")
          || description.length() >= 300
          || Ciphertext.in(description)) {
        broken.add(where + ": " + s.getCode() + " " + description);
      }
      return s.getCode();
    } catch (IOException e) {
      throw new AssertionError(where, e);
    }
  }
}
