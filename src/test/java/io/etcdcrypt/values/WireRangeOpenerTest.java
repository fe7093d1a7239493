package io.etcdcrypt.values;

import static io.etcdcrypt.testing.Clients.pb;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.UnknownFieldSet;
import com.google.protobuf.WireFormat;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.crypto.KmsTransformerFactory;
import io.etcdcrypt.crypto.Stages;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeResponse;
import io.etcdcrypt.etcd.etcdserverpb.RangeStreamResponse;
import io.etcdcrypt.etcd.etcdserverpb.RequestOp;
import io.etcdcrypt.etcd.etcdserverpb.ResponseHeader;
import io.etcdcrypt.etcd.etcdserverpb.ResponseOp;
import io.etcdcrypt.etcd.etcdserverpb.TxnRequest;
import io.etcdcrypt.etcd.etcdserverpb.TxnResponse;
import io.etcdcrypt.etcd.mvccpb.KeyValue;
import io.etcdcrypt.testing.Sync;
import io.etcdcrypt.testing.TestCodecs;
import io.grpc.Drainable;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import org.junit.jupiter.api.Test;

/**
 * {@link WireRangeOpener} (through {@link ValueWalker#openRange}) on RangeResponse bytes, with the
 * production codec: secrets under AES-GCM, configmaps under identity, everything else ungoverned.
 * Every outcome is also checked against the parsed path (a Range result inside a Txn response).
 */
class WireRangeOpenerTest {

  private static final String GCM_KEY = TestCodecs.randomKey(32);
  private static final String NEW_GCM_KEY = TestCodecs.randomKey(32);

  private static String config(String gcmKeys) {
    return String.join(
        "\n",
        "apiVersion: apiserver.config.k8s.io/v1",
        "kind: EncryptionConfiguration",
        "resources:",
        "  - resources: [secrets]",
        "    providers:",
        "      - aesgcm: {keys: [" + gcmKeys + "]}",
        "      - identity: {}",
        "  - resources: [configmaps]",
        "    providers: [{identity: {}}]",
        "");
  }

  private static final EncryptionCodec CODEC =
      TestCodecs.fromYaml(
          config("{name: key1, secret: " + GCM_KEY + "}"), KmsTransformerFactory.UNAVAILABLE);

  private final List<String> stale = new ArrayList<>();
  private final ValueWalker walker =
      new ValueWalker(CODEC, (key, rev) -> stale.add(key.toStringUtf8() + "@" + rev));

  /** A Range in key order, as the responses under test answer. */
  private static final RangeRequest PLAIN_RANGE =
      RangeRequest.newBuilder().setKey(pb("/registry/")).build();

  private static final TxnRequest TXN_OF_ONE_RANGE =
      TxnRequest.newBuilder()
          .addSuccess(RequestOp.newBuilder().setRequestRange(PLAIN_RANGE))
          .build();

  private static final ResponseHeader HEADER =
      ResponseHeader.newBuilder()
          .setClusterId(0xcdf8_1819_4e3a_8c32L)
          .setMemberId(0x8e9e_05c5_2164_694dL)
          .setRevision(4242)
          .setRaftTerm(7)
          .build();

  private static KeyValue kv(String key, ByteString value, long mod) {
    return KeyValue.newBuilder()
        .setKey(pb(key))
        .setCreateRevision(mod - 1)
        .setModRevision(mod)
        .setVersion(2)
        .setValue(value)
        .build();
  }

  private static ByteString sealed(String key, String plaintext) throws TransformException {
    return Sync.toStorage(CODEC, pb(key), pb(plaintext));
  }

  private WireMessage<RangeResponse> open(byte[] bytes) throws StatusException {
    return open(new WireMessage<>(bytes));
  }

  private WireMessage<RangeResponse> open(WireMessage<RangeResponse> r) throws StatusException {
    return await(walker.openRange(PLAIN_RANGE, r));
  }

  /** The parsed path: a Range result inside a Txn response, which the walker opens parsed. */
  private RangeResponse openParsed(RangeResponse r) throws StatusException {
    TxnResponse txn =
        TxnResponse.newBuilder()
            .setSucceeded(true)
            .addResponses(ResponseOp.newBuilder().setResponseRange(r))
            .build();
    return await(walker.open(TXN_OF_ONE_RANGE, txn)).getResponses(0).getResponseRange();
  }

  /** The walker's stage, complete here (no KMS), or the refusal it failed with. */
  private static <T> T await(CompletionStage<T> stage) throws StatusException {
    try {
      return stage.toCompletableFuture().join();
    } catch (CompletionException e) {
      throw (StatusException) Stages.cause(e);
    }
  }

  /** The wire result, which must also be what the parsed path makes of the same bytes. */
  private RangeResponse openBoth(RangeResponse stored) throws Exception {
    WireMessage<RangeResponse> out = open(stored.toByteArray());
    RangeResponse viaWire = RangeResponse.parseFrom(out.bytes());
    assertEquals(openParsed(stored), viaWire);
    return viaWire;
  }

  @Test
  void opensGovernedValuesAndCopiesEverythingElse() throws Exception {
    RangeResponse stored =
        RangeResponse.newBuilder()
            .setHeader(HEADER)
            .addKvs(kv("/registry/secrets/ns/a", sealed("/registry/secrets/ns/a", "secret a"), 10))
            .addKvs(kv("/registry/pods/ns/p", pb("pod, not governed"), 11))
            .addKvs(
                KeyValue.newBuilder()
                    .setKey(pb("/registry/secrets/ns/keys-only"))
                    .setModRevision(12)
                    .build())
            .addKvs(
                kv(
                        "/registry/secrets/ns/leased",
                        sealed("/registry/secrets/ns/leased", "with lease"),
                        13)
                    .toBuilder()
                    .setLease(0x7fee_1234_5678L)
                    .build())
            .addKvs(kv("/registry/configmaps/ns/c", pb("identity provider"), 14))
            .addKvs(
                kv("/registry/secrets/ns/z", sealed("/registry/secrets/ns/z", "x".repeat(300)), 15))
            .setMore(true)
            .setCount(1234)
            .build();
    RangeResponse expected =
        stored.toBuilder()
            .setKvs(0, stored.getKvs(0).toBuilder().setValue(pb("secret a")))
            .setKvs(3, stored.getKvs(3).toBuilder().setValue(pb("with lease")))
            .setKvs(5, stored.getKvs(5).toBuilder().setValue(pb("x".repeat(300))))
            .build();
    assertTrue(stored.getKvs(0).getValue().startsWith(pb("k8s:enc:aesgcm:v1:key1:")));

    WireMessage<RangeResponse> out = open(stored.toByteArray());

    // Byte for byte what protobuf writes for the expected message: same fields, same order, exact
    // lengths
    // (the 300-byte value changes the width of its KeyValue's length prefix).
    assertArrayEquals(expected.toByteArray(), out.bytes());
    assertEquals(expected, openBoth(stored));
    assertEquals(List.of(), stale);
  }

  @Test
  void aResponseWithNothingToOpenIsTheSameInstance() throws Exception {
    RangeResponse stored =
        RangeResponse.newBuilder()
            .setHeader(HEADER)
            .addKvs(kv("/registry/pods/ns/p", pb("pod"), 11))
            .addKvs(
                kv("/registry/configmaps/ns/c", pb("identity: equal bytes in a new instance"), 12))
            .addKvs(
                KeyValue.newBuilder()
                    .setKey(pb("/registry/secrets/ns/keys-only"))
                    .setModRevision(13)
                    .build())
            .addKvs(kv("/registry/secrets/ns/empty", ByteString.EMPTY, 14))
            .setCount(4)
            .build();
    WireMessage<RangeResponse> in = new WireMessage<>(stored.toByteArray());
    assertSame(in, open(in));
    WireMessage<RangeResponse> empty = new WireMessage<>(new byte[0]);
    assertSame(empty, open(empty));
    WireMessage<RangeResponse> headerOnly =
        new WireMessage<>(RangeResponse.newBuilder().setHeader(HEADER).build().toByteArray());
    assertSame(headerOnly, open(headerOnly));
    assertEquals(stored, openBoth(stored));
  }

  @Test
  void keepsTheFieldOrderOfAKeyValue() throws Exception {
    // etcd writes fields in number order; another order is valid protobuf and must come out in that
    // order.
    String key = "/registry/secrets/ns/reordered";
    byte[] stored = range(keyValueValueFirst(sealed(key, "plain"), key, 77));
    byte[] expected = range(keyValueValueFirst(pb("plain"), key, 77));
    assertArrayEquals(expected, open(stored).bytes());
  }

  /** A KeyValue written value, lease, key, mod_revision: not protobuf's order. */
  private static byte[] keyValueValueFirst(ByteString value, String key, long mod)
      throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    CodedOutputStream w = CodedOutputStream.newInstance(b);
    w.writeBytes(5, value);
    w.writeInt64(6, 99);
    w.writeBytes(1, pb(key));
    w.writeInt64(3, mod);
    w.flush();
    return b.toByteArray();
  }

  /** A RangeResponse of a header, the given encoded KeyValues, and a count. */
  private static byte[] range(byte[]... keyValues) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    CodedOutputStream w = CodedOutputStream.newInstance(b);
    w.writeMessage(1, HEADER);
    for (byte[] kv : keyValues) {
      w.writeByteArray(2, kv);
    }
    w.writeInt64(4, keyValues.length);
    w.flush();
    return b.toByteArray();
  }

  @Test
  void unknownFieldsInRangeResponseFailClosed() throws Exception {
    UnknownFieldSet extra =
        UnknownFieldSet.newBuilder()
            .addField(
                7,
                UnknownFieldSet.Field.newBuilder()
                    .addLengthDelimited(pb("from a newer etcd"))
                    .build())
            .build();
    RangeResponse stored =
        RangeResponse.newBuilder()
            .setHeader(HEADER)
            .addKvs(kv("/registry/pods/ns/p", pb("pod"), 11))
            .setUnknownFields(extra)
            .build();
    assertUnknownFields("RangeResponse", stored.toByteArray());
    assertUnknownFields("RangeResponse", parsedPathFailure(stored));

    // A known field number with another wire type is not the field this proxy knows.
    byte[] countAsBytes = concat(range(), bytesField(4, pb("12")));
    assertUnknownFields("RangeResponse", countAsBytes);
  }

  @Test
  void unknownFieldsInAnyKeyValueFailClosed() throws Exception {
    UnknownFieldSet extra =
        UnknownFieldSet.newBuilder()
            .addField(9, UnknownFieldSet.Field.newBuilder().addVarint(1).build())
            .build();
    // Not governed, and still refused: a field this proxy does not know may be where a newer etcd
    // keeps a value.
    KeyValue withExtra =
        kv("/registry/pods/ns/p", pb("pod"), 11).toBuilder().setUnknownFields(extra).build();
    RangeResponse stored = RangeResponse.newBuilder().setHeader(HEADER).addKvs(withExtra).build();
    assertUnknownFields("KeyValue", stored.toByteArray());
    assertUnknownFields("KeyValue", parsedPathFailure(stored));

    byte[] modRevisionAsBytes =
        range(concat(bytesField(1, pb("/registry/pods/ns/p")), bytesField(3, pb("1"))));
    assertUnknownFields("KeyValue", modRevisionAsBytes);
  }

  private String parsedPathFailure(RangeResponse stored) throws InvalidProtocolBufferException {
    RangeResponse reparsed = RangeResponse.parseFrom(stored.toByteArray());
    return assertThrows(StatusException.class, () -> openParsed(reparsed))
        .getStatus()
        .getDescription();
  }

  private void assertUnknownFields(String what, byte[] bytes) {
    StatusException e = assertThrows(StatusException.class, () -> open(bytes));
    assertEquals(Status.Code.INTERNAL, e.getStatus().getCode());
    assertUnknownFields(what, e.getStatus().getDescription());
  }

  private static void assertUnknownFields(String what, String description) {
    assertEquals(
        "etcd-crypt-proxy: etcd returned a "
            + what
            + " with fields this proxy does not know (a newer "
            + "etcd?); refused so that no ciphertext can reach the client. Upgrade etcd-crypt-proxy.",
        description);
  }

  @Test
  void malformedBytesFailClosed() throws Exception {
    String key = "/registry/secrets/ns/a";
    byte[] good = range(kv(key, sealed(key, "secret"), 10).toByteArray());
    assertUnreadable(Arrays.copyOf(good, good.length - 3), "truncated");
    // A KeyValue that claims more bytes than the response has.
    assertUnreadable(concat(range(), new byte[] {0x12, 0x7f, 0x0a, 0x01, 'k'}), "truncated");
    // A varint that never ends.
    assertUnreadable(
        concat(
            range(),
            new byte[] {
              0x18,
              (byte) 0xff,
              (byte) 0xff,
              (byte) 0xff,
              (byte) 0xff,
              (byte) 0xff,
              (byte) 0xff,
              (byte) 0xff,
              (byte) 0xff,
              (byte) 0xff,
              (byte) 0xff
            }),
        "malformed varint");
    // Field number 0 is no field.
    assertUnreadable(new byte[] {0x02, 0x00}, "invalid tag");
    // A second value next to the one that would be opened.
    byte[] twoValues =
        range(concat(kv(key, sealed(key, "secret"), 10).toByteArray(), bytesField(5, pb("other"))));
    assertUnreadable(twoValues, "value field twice");
  }

  @Test
  void everyTruncationFailsOrOpensAsTheParsedPathDoes() throws Exception {
    RangeResponse stored =
        RangeResponse.newBuilder()
            .setHeader(HEADER)
            .addKvs(kv("/registry/secrets/ns/a", sealed("/registry/secrets/ns/a", "secret a"), 10))
            .addKvs(kv("/registry/pods/ns/p", pb("pod"), 11))
            .setMore(true)
            .setCount(2)
            .build();
    byte[] all = stored.toByteArray();
    for (int n = 0; n < all.length; n++) {
      byte[] cut = Arrays.copyOf(all, n);
      RangeResponse parsed;
      try {
        parsed = RangeResponse.parseFrom(cut);
      } catch (InvalidProtocolBufferException notProtobuf) {
        StatusException e = assertThrows(StatusException.class, () -> open(cut), "cut at " + n);
        assertEquals(Status.Code.INTERNAL, e.getStatus().getCode());
        continue;
      }
      // Cut between two fields: valid protobuf, opened exactly as the parsed path opens it.
      assertEquals(openParsed(parsed), RangeResponse.parseFrom(open(cut).bytes()), "cut at " + n);
    }
  }

  private void assertUnreadable(byte[] bytes, String why) {
    StatusException e = assertThrows(StatusException.class, () -> open(bytes));
    assertEquals(Status.Code.INTERNAL, e.getStatus().getCode());
    String d = e.getStatus().getDescription();
    assertTrue(
        d.startsWith("etcd-crypt-proxy: etcd returned a RangeResponse this proxy cannot read (")
            && d.endsWith("); it was not forwarded")
            && d.contains(why),
        d);
  }

  @Test
  void aValueThatCannotBeDecryptedFailsTheWholeResponseNamingItsKey() throws Exception {
    RangeResponse stored =
        RangeResponse.newBuilder()
            .setHeader(HEADER)
            .addKvs(
                kv("/registry/secrets/ns/good", sealed("/registry/secrets/ns/good", "fine"), 10))
            .addKvs(
                kv(
                    "/registry/secrets/ns/bad",
                    pb("k8s:enc:aesgcm:v1:key1:0123456789abcdef0123456789"),
                    11))
            .build();
    StatusException e = assertThrows(StatusException.class, () -> open(stored.toByteArray()));
    assertEquals(Status.Code.INTERNAL, e.getStatus().getCode());
    String d = e.getStatus().getDescription();
    assertTrue(
        d.startsWith(
            "etcd-crypt-proxy: cannot decrypt the value of key \"/registry/secrets/ns/bad\": "),
        d);
    assertEquals(
        d,
        assertThrows(StatusException.class, () -> openParsed(stored)).getStatus().getDescription());

    // Ciphertext moved to another key does not open: the key is the associated data.
    RangeResponse moved =
        RangeResponse.newBuilder()
            .addKvs(
                kv("/registry/secrets/ns/copy", sealed("/registry/secrets/ns/original", "x"), 12))
            .build();
    assertEquals(
        Status.Code.INTERNAL,
        assertThrows(StatusException.class, () -> open(moved.toByteArray())).getStatus().getCode());
  }

  @Test
  void staleValuesAreReportedWithTheirKeyAndRevision() throws Exception {
    // Current key first, the key that wrote the value second: the value opens and is stale.
    EncryptionCodec rotated =
        TestCodecs.fromYaml(
            config(
                "{name: key2, secret: " + NEW_GCM_KEY + "}, {name: key1, secret: " + GCM_KEY + "}"),
            KmsTransformerFactory.UNAVAILABLE);
    ValueWalker rotatedWalker =
        new ValueWalker(rotated, (key, rev) -> stale.add(key.toStringUtf8() + "@" + rev));
    String key = "/registry/secrets/ns/old";
    RangeResponse stored =
        RangeResponse.newBuilder()
            .setHeader(HEADER)
            .addKvs(kv("/registry/pods/ns/p", pb("pod"), 11))
            .addKvs(kv(key, sealed(key, "old"), 21))
            .build();
    WireMessage<RangeResponse> out =
        await(rotatedWalker.openRange(PLAIN_RANGE, new WireMessage<>(stored.toByteArray())));
    assertEquals(pb("old"), RangeResponse.parseFrom(out.bytes()).getKvs(1).getValue());
    assertEquals(List.of(key + "@21"), stale);
  }

  // ---- KV/RangeStream chunks (etcd 3.7): a RangeResponse inside field 1 ----

  private WireMessage<RangeStreamResponse> openChunk(byte[] bytes) throws StatusException {
    return await(walker.openRangeChunk(PLAIN_RANGE, new WireMessage<>(bytes)));
  }

  private static RangeStreamResponse chunk(RangeResponse range) {
    return RangeStreamResponse.newBuilder().setRangeResponse(range).build();
  }

  @Test
  void aRangeStreamChunkIsOpenedAsARangeResponseIs() throws Exception {
    // A middle chunk: kvs only. The last chunk: header, more and count, here with kvs as well.
    RangeResponse middle =
        RangeResponse.newBuilder()
            .addKvs(kv("/registry/secrets/ns/a", sealed("/registry/secrets/ns/a", "secret a"), 10))
            .addKvs(kv("/registry/pods/ns/p", pb("pod, not governed"), 11))
            .addKvs(
                kv("/registry/secrets/ns/z", sealed("/registry/secrets/ns/z", "z".repeat(200)), 12))
            .build();
    RangeResponse last =
        RangeResponse.newBuilder()
            .setHeader(HEADER)
            .addKvs(kv("/registry/secrets/ns/zz", sealed("/registry/secrets/ns/zz", "last"), 13))
            .setMore(false)
            .setCount(4)
            .build();
    for (RangeResponse stored : List.of(middle, last)) {
      // Byte for byte a chunk of the opened page, as the unary path opens it.
      byte[] expected =
          chunk(RangeResponse.parseFrom(open(stored.toByteArray()).bytes())).toByteArray();
      assertArrayEquals(expected, openChunk(chunk(stored).toByteArray()).bytes());
    }
    assertEquals(
        pb("z".repeat(200)),
        RangeStreamResponse.parseFrom(openChunk(chunk(middle).toByteArray()).bytes())
            .getRangeResponse()
            .getKvs(2)
            .getValue());
  }

  @Test
  void aRangeStreamChunkWithNothingToOpenIsTheSameInstance() throws Exception {
    List<RangeStreamResponse> chunks =
        List.of(
            RangeStreamResponse.getDefaultInstance(),
            chunk(RangeResponse.getDefaultInstance()),
            chunk(RangeResponse.newBuilder().setHeader(HEADER).setCount(0).build()),
            chunk(
                RangeResponse.newBuilder()
                    .addKvs(kv("/registry/pods/ns/p", pb("pod"), 3))
                    .addKvs(kv("/registry/configmaps/ns/c", pb("identity"), 4))
                    .build()));
    for (RangeStreamResponse c : chunks) {
      WireMessage<RangeStreamResponse> in = new WireMessage<>(c.toByteArray());
      assertSame(in, await(walker.openRangeChunk(PLAIN_RANGE, in)), c.toString());
    }
  }

  @Test
  void aRangeStreamChunkFailsClosedLikeARangeResponse() throws Exception {
    // A field next to range_response: a newer etcd's, possibly with values in it.
    byte[] extraField =
        concat(chunk(RangeResponse.getDefaultInstance()).toByteArray(), bytesField(2, pb("x")));
    StatusException extra = assertThrows(StatusException.class, () -> openChunk(extraField));
    assertEquals(Status.Code.INTERNAL, extra.getStatus().getCode());
    assertUnknownFields("RangeStreamResponse", extra.getStatus().getDescription());

    // Inside the range_response, the same rules as Range.
    RangeResponse withExtra =
        RangeResponse.newBuilder()
            .setUnknownFields(
                UnknownFieldSet.newBuilder()
                    .addField(7, UnknownFieldSet.Field.newBuilder().addVarint(1).build())
                    .build())
            .build();
    StatusException inner =
        assertThrows(StatusException.class, () -> openChunk(chunk(withExtra).toByteArray()));
    assertUnknownFields("RangeResponse", inner.getStatus().getDescription());

    // Two range_response fields would merge; etcd sends one, and the second could carry a value
    // past the opener.
    byte[] twice =
        concat(
            chunk(RangeResponse.getDefaultInstance()).toByteArray(),
            chunk(
                    RangeResponse.newBuilder()
                        .addKvs(kv("/registry/pods/ns/p", pb("pod"), 3))
                        .build())
                .toByteArray());
    StatusException repeated = assertThrows(StatusException.class, () -> openChunk(twice));
    assertEquals(Status.Code.INTERNAL, repeated.getStatus().getCode());
    assertTrue(
        repeated
            .getStatus()
            .getDescription()
            .contains("RangeStreamResponse this proxy cannot read"),
        repeated.getStatus().getDescription());

    byte[] good =
        chunk(
                RangeResponse.newBuilder()
                    .addKvs(kv("/registry/secrets/ns/a", sealed("/registry/secrets/ns/a", "s"), 10))
                    .build())
            .toByteArray();
    StatusException cut =
        assertThrows(StatusException.class, () -> openChunk(Arrays.copyOf(good, good.length - 2)));
    assertEquals(Status.Code.INTERNAL, cut.getStatus().getCode());

    RangeResponse undecryptable =
        RangeResponse.newBuilder()
            .addKvs(
                kv(
                    "/registry/secrets/ns/bad",
                    pb("k8s:enc:aesgcm:v1:key1:0123456789abcdef0123456789"),
                    11))
            .build();
    StatusException bad =
        assertThrows(StatusException.class, () -> openChunk(chunk(undecryptable).toByteArray()));
    assertTrue(
        bad.getStatus()
            .getDescription()
            .startsWith(
                "etcd-crypt-proxy: cannot decrypt the value of key \"/registry/secrets/ns/bad\": "),
        bad.getStatus().getDescription());
  }

  @Test
  void theMarshallerReadsAndWritesTheBytesAsTheyAre() throws Exception {
    byte[] bytes =
        RangeResponse.newBuilder()
            .setHeader(HEADER)
            .addKvs(kv("/k", pb("v"), 3))
            .build()
            .toByteArray();
    MethodDescriptor.Marshaller<WireMessage<RangeResponse>> marshaller = WireMessage.marshaller();
    WireMessage<RangeResponse> parsed = marshaller.parse(new KnownLengthStream(bytes));
    assertArrayEquals(bytes, parsed.bytes());
    assertArrayEquals(bytes, marshaller.parse(new ByteArrayInputStream(bytes)).bytes());

    InputStream out = marshaller.stream(parsed);
    assertTrue(out instanceof KnownLength && out instanceof Drainable);
    assertEquals(bytes.length, out.available());
    ByteArrayOutputStream drained = new ByteArrayOutputStream();
    assertEquals(bytes.length, ((Drainable) out).drainTo(drained));
    assertArrayEquals(bytes, drained.toByteArray());
    assertEquals(0, out.available());
    assertEquals("WireMessage[" + bytes.length + " bytes]", parsed.toString());
  }

  /** Stands in for grpc-java's inbound message stream, which knows its length. */
  private static final class KnownLengthStream extends ByteArrayInputStream implements KnownLength {
    KnownLengthStream(byte[] b) {
      super(b);
    }
  }

  private static byte[] bytesField(int number, ByteString value) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    CodedOutputStream w = CodedOutputStream.newInstance(b);
    w.writeTag(number, WireFormat.WIRETYPE_LENGTH_DELIMITED);
    w.writeBytesNoTag(value);
    w.flush();
    return b.toByteArray();
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] c = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, c, a.length, b.length);
    return c;
  }
}
