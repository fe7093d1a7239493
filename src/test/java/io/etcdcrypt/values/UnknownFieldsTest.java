package io.etcdcrypt.values;

import static io.etcdcrypt.testing.Clients.pb;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.protobuf.Message;
import com.google.protobuf.UnknownFieldSet;
import io.etcdcrypt.crypto.Stages;
import io.etcdcrypt.etcd.etcdserverpb.Compare;
import io.etcdcrypt.etcd.etcdserverpb.DeleteRangeResponse;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.PutResponse;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeResponse;
import io.etcdcrypt.etcd.etcdserverpb.RangeStreamResponse;
import io.etcdcrypt.etcd.etcdserverpb.RequestOp;
import io.etcdcrypt.etcd.etcdserverpb.ResponseOp;
import io.etcdcrypt.etcd.etcdserverpb.TxnRequest;
import io.etcdcrypt.etcd.etcdserverpb.TxnResponse;
import io.etcdcrypt.etcd.etcdserverpb.WatchResponse;
import io.etcdcrypt.etcd.mvccpb.Event;
import io.etcdcrypt.etcd.mvccpb.KeyValue;
import io.etcdcrypt.etcd.v3electionpb.CampaignRequest;
import io.etcdcrypt.etcd.v3electionpb.LeaderKey;
import io.etcdcrypt.etcd.v3electionpb.LeaderResponse;
import io.etcdcrypt.etcd.v3electionpb.ProclaimRequest;
import io.etcdcrypt.testing.TestCodecs;
import io.grpc.Status;
import io.grpc.StatusException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import org.junit.jupiter.api.Test;

/**
 * Every message that carries values, at every depth, refuses a field this proxy's protos do not
 * define, governed key or not: a newer etcd or client could keep a value there, which the codec
 * would never see. Requests are refused with INVALID_ARGUMENT before anything is sent; responses
 * fail with INTERNAL before anything is delivered. The message named in the error is the one that
 * carries the field.
 */
class UnknownFieldsTest {

  private final ValueWalker walker =
      new ValueWalker(TestCodecs.secretsUnderAesGcm(), (key, rev) -> {});

  /** {@code m} with a field number no etcd message uses. */
  @SuppressWarnings("unchecked")
  private static <M extends Message> M withUnknownField(M m) {
    return (M)
        m.toBuilder()
            .setUnknownFields(
                UnknownFieldSet.newBuilder()
                    .addField(
                        4242,
                        UnknownFieldSet.Field.newBuilder()
                            .addLengthDelimited(pb("a value?"))
                            .build())
                    .build())
            .build();
  }

  private static final KeyValue KV =
      KeyValue.newBuilder()
          .setKey(pb("/app/not-governed"))
          .setValue(pb("v"))
          .setModRevision(5)
          .build();

  private static void assertRefused(CompletionStage<?> stage, Status.Code code, String message) {
    try {
      stage.toCompletableFuture().join();
      fail("a " + message + " with an unknown field was let through");
    } catch (CompletionException e) {
      StatusException s = (StatusException) Stages.cause(e);
      assertEquals(code, s.getStatus().getCode(), s.getStatus().toString());
      // The answer to a write etcd applied says so first (Refusals.afterApplied).
      String why =
          s.getStatus()
              .getDescription()
              .replaceFirst(
                  "^etcd-crypt-proxy: the write was applied: etcd applied the (Put|DeleteRange), but"
                      + " its answer cannot be returned \\(retrying repeats the write\\): ",
                  "etcd-crypt-proxy: ");
      assertTrue(
          why.startsWith(
              "etcd-crypt-proxy: "
                  + (code == Status.Code.INTERNAL
                      ? "etcd returned a " + message + " with fields this proxy does not know"
                      : message + " carries fields this proxy does not know")),
          s.getStatus().getDescription());
    }
  }

  @Test
  void requests() {
    PutRequest put =
        PutRequest.newBuilder().setKey(pb("/registry/secrets/a/b")).setValue(pb("v")).build();
    assertRefused(walker.seal(withUnknownField(put)), Status.Code.INVALID_ARGUMENT, "PutRequest");

    Compare compare =
        Compare.newBuilder().setKey(pb("/app/k")).setTarget(Compare.CompareTarget.MOD).build();
    TxnRequest txn =
        TxnRequest.newBuilder()
            .addCompare(compare)
            .addSuccess(RequestOp.newBuilder().setRequestPut(put))
            .build();
    assertRefused(walker.seal(withUnknownField(txn)), Status.Code.INVALID_ARGUMENT, "TxnRequest");
    assertRefused(
        walker.seal(txn.toBuilder().setCompare(0, withUnknownField(compare)).build()),
        Status.Code.INVALID_ARGUMENT,
        "Compare");
    // Two levels down: a Put, a RequestOp, a Txn and its Compare inside a Txn inside a Txn.
    assertRefused(
        walker.seal(
            twoLevelsDown(
                txn.toBuilder()
                    .setSuccess(0, RequestOp.newBuilder().setRequestPut(withUnknownField(put)))
                    .build())),
        Status.Code.INVALID_ARGUMENT,
        "PutRequest");
    assertRefused(
        walker.seal(
            twoLevelsDown(
                txn.toBuilder()
                    .setSuccess(
                        0, withUnknownField(RequestOp.newBuilder().setRequestPut(put).build()))
                    .build())),
        Status.Code.INVALID_ARGUMENT,
        "RequestOp");
    assertRefused(
        walker.seal(twoLevelsDown(withUnknownField(txn))),
        Status.Code.INVALID_ARGUMENT,
        "TxnRequest");
    assertRefused(
        walker.seal(
            twoLevelsDown(txn.toBuilder().setCompare(0, withUnknownField(compare)).build())),
        Status.Code.INVALID_ARGUMENT,
        "Compare");

    assertRefused(
        walker.seal(
            withUnknownField(
                CampaignRequest.newBuilder().setName(pb("/election")).setValue(pb("me")).build())),
        Status.Code.INVALID_ARGUMENT,
        "CampaignRequest");
    assertRefused(
        walker.seal(
            withUnknownField(
                ProclaimRequest.newBuilder()
                    .setLeader(LeaderKey.newBuilder().setKey(pb("/election/1")))
                    .setValue(pb("me"))
                    .build())),
        Status.Code.INVALID_ARGUMENT,
        "ProclaimRequest");
  }

  private static TxnRequest twoLevelsDown(TxnRequest inner) {
    TxnRequest middle =
        TxnRequest.newBuilder().addFailure(RequestOp.newBuilder().setRequestTxn(inner)).build();
    return TxnRequest.newBuilder().addSuccess(RequestOp.newBuilder().setRequestTxn(middle)).build();
  }

  @Test
  void kvResponses() {
    assertRefused(
        walker.open(withUnknownField(PutResponse.getDefaultInstance())),
        Status.Code.INTERNAL,
        "PutResponse");
    assertTrue(
        Stages.cause(
                walker
                    .open(withUnknownField(PutResponse.getDefaultInstance()))
                    .toCompletableFuture()
                    .handle((r, e) -> e)
                    .join())
            .getMessage()
            .contains(Refusals.WRITE_APPLIED),
        "a Put etcd applied says so");
    assertRefused(
        walker.open(PutResponse.newBuilder().setPrevKv(withUnknownField(KV)).build()),
        Status.Code.INTERNAL,
        "KeyValue");
    assertRefused(
        walker.open(withUnknownField(DeleteRangeResponse.getDefaultInstance())),
        Status.Code.INTERNAL,
        "DeleteRangeResponse");
    assertRefused(
        walker.open(
            DeleteRangeResponse.newBuilder()
                .addPrevKvs(KV)
                .addPrevKvs(withUnknownField(KV))
                .build()),
        Status.Code.INTERNAL,
        "KeyValue");

    RangeRequest range = RangeRequest.newBuilder().setKey(pb("/app/")).build();
    TxnRequest request =
        TxnRequest.newBuilder().addSuccess(RequestOp.newBuilder().setRequestRange(range)).build();
    RangeResponse rangeResponse = RangeResponse.newBuilder().addKvs(KV).build();
    TxnResponse txn =
        TxnResponse.newBuilder()
            .setSucceeded(true)
            .addResponses(ResponseOp.newBuilder().setResponseRange(rangeResponse))
            .build();
    assertRefused(walker.open(request, withUnknownField(txn)), Status.Code.INTERNAL, "TxnResponse");
    assertRefused(
        walker.open(
            request,
            txn.toBuilder().setResponses(0, withUnknownField(txn.getResponses(0))).build()),
        Status.Code.INTERNAL,
        "ResponseOp");
    assertRefused(
        walker.open(
            request,
            txn.toBuilder()
                .setResponses(
                    0, ResponseOp.newBuilder().setResponseRange(withUnknownField(rangeResponse)))
                .build()),
        Status.Code.INTERNAL,
        "RangeResponse");
    assertRefused(
        walker.open(
            request,
            txn.toBuilder()
                .setResponses(
                    0,
                    ResponseOp.newBuilder()
                        .setResponseRange(RangeResponse.newBuilder().addKvs(withUnknownField(KV))))
                .build()),
        Status.Code.INTERNAL,
        "KeyValue");
    // A Txn response inside a Txn response, with the field at the bottom.
    TxnResponse deep =
        TxnResponse.newBuilder()
            .setSucceeded(true)
            .addResponses(
                ResponseOp.newBuilder()
                    .setResponseTxn(
                        txn.toBuilder()
                            .setResponses(
                                0,
                                ResponseOp.newBuilder()
                                    .setResponseRange(
                                        RangeResponse.newBuilder().addKvs(withUnknownField(KV))))))
            .build();
    assertRefused(
        walker.open(
            TxnRequest.newBuilder()
                .addSuccess(RequestOp.newBuilder().setRequestTxn(request))
                .build(),
            deep),
        Status.Code.INTERNAL,
        "KeyValue");

    RangeRequest plain = RangeRequest.newBuilder().setKey(pb("/app/")).build();
    assertRefused(
        walker.openRange(plain, new WireMessage<>(withUnknownField(rangeResponse).toByteArray())),
        Status.Code.INTERNAL,
        "RangeResponse");
    assertRefused(
        walker.openRange(
            plain,
            new WireMessage<>(
                RangeResponse.newBuilder().addKvs(withUnknownField(KV)).build().toByteArray())),
        Status.Code.INTERNAL,
        "KeyValue");
    RangeStreamResponse chunk =
        RangeStreamResponse.newBuilder().setRangeResponse(rangeResponse).build();
    assertRefused(
        walker.openRangeChunk(plain, new WireMessage<>(withUnknownField(chunk).toByteArray())),
        Status.Code.INTERNAL,
        "RangeStreamResponse");
    assertRefused(
        walker.openRangeChunk(
            plain,
            new WireMessage<>(
                RangeStreamResponse.newBuilder()
                    .setRangeResponse(RangeResponse.newBuilder().addKvs(withUnknownField(KV)))
                    .build()
                    .toByteArray())),
        Status.Code.INTERNAL,
        "KeyValue");
  }

  @Test
  void watchAndElectionResponses() {
    Event event = Event.newBuilder().setType(Event.EventType.PUT).setKv(KV).setPrevKv(KV).build();
    WatchResponse watch = WatchResponse.newBuilder().setWatchId(1).addEvents(event).build();
    assertRefused(walker.open(withUnknownField(watch)), Status.Code.INTERNAL, "WatchResponse");
    assertRefused(
        walker.open(watch.toBuilder().setEvents(0, withUnknownField(event)).build()),
        Status.Code.INTERNAL,
        "Event");
    assertRefused(
        walker.open(
            watch.toBuilder().setEvents(0, event.toBuilder().setKv(withUnknownField(KV))).build()),
        Status.Code.INTERNAL,
        "KeyValue");
    assertRefused(
        walker.open(
            watch.toBuilder()
                .setEvents(0, event.toBuilder().setPrevKv(withUnknownField(KV)))
                .build()),
        Status.Code.INTERNAL,
        "KeyValue");

    LeaderResponse leader = LeaderResponse.newBuilder().setKv(KV).build();
    assertRefused(walker.open(withUnknownField(leader)), Status.Code.INTERNAL, "LeaderResponse");
    assertRefused(
        walker.open(LeaderResponse.newBuilder().setKv(withUnknownField(KV)).build()),
        Status.Code.INTERNAL,
        "KeyValue");
  }

  @Test
  void theSameMessagesWithoutTheFieldPass() {
    // The refusals above are for the field, not for the shapes.
    RangeRequest range = RangeRequest.newBuilder().setKey(pb("/app/")).build();
    TxnRequest request =
        TxnRequest.newBuilder().addSuccess(RequestOp.newBuilder().setRequestRange(range)).build();
    TxnResponse txn =
        TxnResponse.newBuilder()
            .setSucceeded(true)
            .addResponses(
                ResponseOp.newBuilder().setResponseRange(RangeResponse.newBuilder().addKvs(KV)))
            .build();
    assertEquals(txn, walker.open(request, txn).toCompletableFuture().join());
    WatchResponse watch =
        WatchResponse.newBuilder().addEvents(Event.newBuilder().setKv(KV).setPrevKv(KV)).build();
    assertEquals(watch, walker.open(watch).toCompletableFuture().join());
    LeaderResponse leader = LeaderResponse.newBuilder().setKv(KV).build();
    assertEquals(leader, walker.open(leader).toCompletableFuture().join());
  }
}
