package io.etcdcrypt.values;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.UnsafeByteOperations;
import com.google.protobuf.WireFormat;
import io.etcdcrypt.etcd.etcdserverpb.RangeResponse;
import io.etcdcrypt.etcd.etcdserverpb.RangeStreamResponse;
import io.grpc.Status;
import io.grpc.StatusException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Opens the values of a {@code KV/Range} response, or of a {@code KV/RangeStream} chunk, in its
 * wire bytes: what {@link ValueWalker} does to a parsed {@code RangeResponse}, without the parse
 * and rebuild. The rules are {@link Refusals}' and the values come from the walker's {@link
 * ValueSource}; this class only knows the byte layout of {@code RangeStreamResponse}, {@code
 * RangeResponse} (rpc.proto) and {@code KeyValue} (kv.proto).
 *
 * <p>Only the value field of a KeyValue whose value the codec changes is replaced, together with
 * that KeyValue's length prefix; every other byte (the header, unchanged KeyValues, the fields
 * around the value, in their order) is copied as received. A response with nothing to change is
 * returned as the very same instance. Fields this proxy does not know, in RangeResponse or
 * KeyValue, fail the response as the parsed path does; the header is copied without looking inside
 * (it carries no value).
 */
final class WireRangeOpener {

  private static final int LEN = WireFormat.WIRETYPE_LENGTH_DELIMITED;
  private static final int VARINT = WireFormat.WIRETYPE_VARINT;

  // RangeResponse: header = 1, kvs = 2, more = 3, count = 4.
  private static final int RANGE_HEADER = 1 << 3 | LEN;
  private static final int RANGE_KVS = 2 << 3 | LEN;
  private static final int RANGE_MORE = 3 << 3 | VARINT;
  private static final int RANGE_COUNT = 4 << 3 | VARINT;

  // KeyValue: key = 1, create_revision = 2, mod_revision = 3, version = 4, value = 5, lease = 6.
  private static final int KV_KEY = 1 << 3 | LEN;
  private static final int KV_CREATE_REVISION = 2 << 3 | VARINT;
  private static final int KV_MOD_REVISION = 3 << 3 | VARINT;
  private static final int KV_VERSION = 4 << 3 | VARINT;
  private static final int KV_VALUE = 5 << 3 | LEN;
  private static final int KV_LEASE = 6 << 3 | VARINT;

  // RangeStreamResponse: range_response = 1.
  private static final int CHUNK_RANGE_RESPONSE = 1 << 3 | LEN;

  private WireRangeOpener() {}

  /** {@code response} with every value opened; the same instance if none changed. */
  static WireMessage<RangeResponse> open(WireMessage<RangeResponse> response, ValueSource values)
      throws StatusException {
    byte[] in = response.bytes();
    byte[] out = openRange(in, 0, in.length, values);
    return out == null ? response : new WireMessage<>(out);
  }

  /**
   * A {@code KV/RangeStream} chunk with every value of its {@code range_response} opened; the same
   * instance if none changed. Only that one field may be there, as etcd sends it.
   */
  static WireMessage<RangeStreamResponse> openChunk(
      WireMessage<RangeStreamResponse> chunk, ValueSource values) throws StatusException {
    byte[] in = chunk.bytes();
    int rangeAt = -1;
    int rangeLength = 0;
    try {
      CodedInputStream s = CodedInputStream.newInstance(in);
      for (int tag = s.readTag(); tag != 0; tag = s.readTag()) {
        if (tag != CHUNK_RANGE_RESPONSE) {
          throw Refusals.unknownResponseFields("RangeStreamResponse");
        }
        requireOnce(rangeAt, "RangeStreamResponse", "range_response");
        rangeLength = s.readRawVarint32();
        rangeAt = s.getTotalBytesRead();
        s.skipRawBytes(rangeLength);
      }
    } catch (IOException e) {
      throw Refusals.unreadableResponse("RangeStreamResponse", e.getMessage());
    }
    byte[] opened = rangeAt < 0 ? null : openRange(in, rangeAt, rangeLength, values);
    if (opened == null) {
      return chunk;
    }
    byte[] out =
        new byte[1 + CodedOutputStream.computeUInt32SizeNoTag(opened.length) + opened.length];
    CodedOutputStream w = CodedOutputStream.newInstance(out);
    try {
      w.writeUInt32NoTag(CHUNK_RANGE_RESPONSE);
      w.writeUInt32NoTag(opened.length);
      w.writeRawBytes(opened);
      w.checkNoSpaceLeft();
    } catch (IOException e) {
      throw new IllegalStateException(
          "the rewritten RangeStream chunk did not fill its computed size", e);
    }
    return new WireMessage<>(out);
  }

  /**
   * The RangeResponse encoded in {@code in[from, from + length)} with every value opened, or null
   * when none changed.
   */
  private static byte[] openRange(byte[] in, int from, int length, ValueSource values)
      throws StatusException {
    List<OpenedValue> opened = null;
    try {
      CodedInputStream s = CodedInputStream.newInstance(in, from, length);
      for (int tag = s.readTag(); tag != 0; tag = s.readTag()) {
        switch (tag) {
          case RANGE_HEADER, RANGE_MORE, RANGE_COUNT -> s.skipField(tag);
          case RANGE_KVS -> {
            OpenedValue v = openKeyValue(s, in, from, values);
            if (v != null) {
              if (opened == null) {
                opened = new ArrayList<>();
              }
              opened.add(v);
            }
          }
          default -> throw Refusals.unknownResponseFields("RangeResponse");
        }
      }
    } catch (IOException e) {
      throw Refusals.unreadableResponse("RangeResponse", e.getMessage());
    }
    return opened == null ? null : rewrite(in, from, length, opened);
  }

  /**
   * Where one KeyValue lies in the input and its opened value. Offsets: {@code lengthAt} its length
   * prefix, {@code bodyAt..bodyEnd} its fields, {@code valueLengthAt} the value's length prefix
   * (after its tag), {@code valueEnd} the end of the stored value.
   */
  private record OpenedValue(
      int lengthAt,
      int bodyAt,
      int bodyEnd,
      int valueLengthAt,
      int valueEnd,
      ByteString plaintext) {

    int newBodyLength() {
      return (bodyEnd - bodyAt)
          - (valueEnd - valueLengthAt)
          + CodedOutputStream.computeUInt32SizeNoTag(plaintext.size())
          + plaintext.size();
    }
  }

  /**
   * Reads the KeyValue at {@code s} (after its tag); null when its value stays as stored. {@code
   * base} is where {@code s} starts in {@code in}: the offsets recorded are positions in {@code
   * in}.
   */
  private static OpenedValue openKeyValue(
      CodedInputStream s, byte[] in, int base, ValueSource values)
      throws IOException, StatusException {
    int lengthAt = base + s.getTotalBytesRead();
    int length = s.readRawVarint32();
    int bodyAt = base + s.getTotalBytesRead();
    int outer = s.pushLimit(length);
    int keyAt = -1;
    int keyLength = 0;
    int valueLengthAt = -1;
    int valueAt = -1;
    int valueLength = 0;
    long modRevision = 0;
    for (int tag = s.readTag(); tag != 0; tag = s.readTag()) {
      switch (tag) {
        case KV_KEY -> {
          requireOnce(keyAt, "KeyValue", "key");
          keyLength = s.readRawVarint32();
          keyAt = base + s.getTotalBytesRead();
          s.skipRawBytes(keyLength);
        }
        case KV_VALUE -> {
          requireOnce(valueAt, "KeyValue", "value");
          valueLengthAt = base + s.getTotalBytesRead();
          valueLength = s.readRawVarint32();
          valueAt = base + s.getTotalBytesRead();
          s.skipRawBytes(valueLength);
        }
        case KV_MOD_REVISION -> modRevision = s.readInt64();
        case KV_CREATE_REVISION, KV_VERSION, KV_LEASE -> s.readInt64();
        default -> throw Refusals.unknownResponseFields("KeyValue");
      }
    }
    s.popLimit(outer);
    // Empty values (keys_only ranges) carry nothing to open.
    if (valueLength == 0) {
      return null;
    }
    ByteString key =
        keyAt < 0 ? ByteString.EMPTY : UnsafeByteOperations.unsafeWrap(in, keyAt, keyLength);
    ByteString value = UnsafeByteOperations.unsafeWrap(in, valueAt, valueLength);
    ByteString plaintext = values.open(key, value, modRevision, true);
    if (plaintext == value || sameBytes(plaintext, value)) {
      return null;
    }
    return new OpenedValue(
        lengthAt, bodyAt, bodyAt + length, valueLengthAt, valueAt + valueLength, plaintext);
  }

  /**
   * Whether a new instance holds the stored bytes (a governed key whose provider is identity).
   * Compared as ByteBuffers, which the JDK compares vectorized; {@code ByteString.equals} compares
   * byte by byte, which cost a third of the proxy's CPU on an identity list page.
   */
  private static boolean sameBytes(ByteString a, ByteString b) {
    return a.size() == b.size() && a.asReadOnlyByteBuffer().equals(b.asReadOnlyByteBuffer());
  }

  /**
   * A repeated message field is valid protobuf (the last one wins, or both merge) but etcd never
   * sends one; refused, so that no stored value can ride along next to the one that was opened.
   */
  private static void requireOnce(int seenAt, String message, String field) throws IOException {
    if (seenAt >= 0) {
      throw new IOException("a " + message + " carries its " + field + " field twice");
    }
  }

  /**
   * {@code in[from, from + length)} with the opened values in place: sized first, then written once
   * into one array.
   */
  private static byte[] rewrite(byte[] in, int from, int length, List<OpenedValue> opened)
      throws StatusException {
    long size = length;
    for (OpenedValue v : opened) {
      int bodyLength = v.newBodyLength();
      size +=
          CodedOutputStream.computeUInt32SizeNoTag(bodyLength)
              + bodyLength
              - (v.bodyEnd - v.lengthAt);
    }
    if (size > Integer.MAX_VALUE - 8) {
      throw Refusals.refuse(
          Status.RESOURCE_EXHAUSTED, "the decrypted Range response exceeds 2 GiB");
    }
    byte[] out = new byte[(int) size];
    CodedOutputStream w = CodedOutputStream.newInstance(out);
    try {
      int copied = from;
      for (OpenedValue v : opened) {
        w.writeRawBytes(in, copied, v.lengthAt - copied); // up to this KeyValue, its tag included
        w.writeUInt32NoTag(v.newBodyLength());
        w.writeRawBytes(
            in, v.bodyAt, v.valueLengthAt - v.bodyAt); // fields before the value, the value's tag
        w.writeUInt32NoTag(v.plaintext.size());
        w.writeRawBytes(v.plaintext);
        w.writeRawBytes(in, v.valueEnd, v.bodyEnd - v.valueEnd); // fields after the value
        copied = v.bodyEnd;
      }
      w.writeRawBytes(in, copied, from + length - copied);
      w.checkNoSpaceLeft();
    } catch (IOException e) {
      throw new IllegalStateException(
          "the rewritten Range response did not fill its computed size", e);
    }
    return out;
  }
}
