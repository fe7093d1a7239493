package io.etcdcrypt.values;

import com.google.protobuf.ByteString;
import com.google.protobuf.GeneratedMessageV3;
import io.grpc.Status;
import io.grpc.StatusException;

/**
 * The one rule set for messages that carry values, and the errors it answers with. A value-bearing
 * message with fields this proxy's protos do not define is refused, in either direction: such a
 * field could carry a value past encryption (a request) or ciphertext to a client (a response).
 * Every message names itself in the error, and every error starts with {@value #PREFIX}.
 */
public final class Refusals {

  static final String PREFIX = "etcd-crypt-proxy: ";

  private Refusals() {}

  /**
   * Refuses a request message with fields this proxy cannot see into ({@code what}, e.g.
   * "PutRequest").
   */
  static void requireKnownFields(GeneratedMessageV3 request, String what) throws StatusException {
    if (hasUnknownFields(request)) {
      throw refuse(
          Status.INVALID_ARGUMENT,
          what
              + " carries fields this proxy does not know (a newer etcd client?); refused so that no value can "
              + "bypass encryption. Upgrade etcd-crypt-proxy.");
    }
  }

  /** Fails a response message from etcd with fields this proxy cannot see into. */
  static void requireKnownResponseFields(GeneratedMessageV3 response, String what)
      throws StatusException {
    if (hasUnknownFields(response)) {
      throw unknownResponseFields(what);
    }
  }

  /**
   * The failure of a response message from etcd ({@code what}, e.g. "KeyValue") with unknown
   * fields.
   */
  static StatusException unknownResponseFields(String what) {
    return refuse(
        Status.INTERNAL,
        "etcd returned a "
            + what
            + " with fields this proxy does not know (a newer etcd?); refused so that no "
            + "ciphertext can reach the client. Upgrade etcd-crypt-proxy.");
  }

  /** The failure of a response message from etcd that is not valid protobuf of its type. */
  static StatusException unreadableResponse(String what, String why) {
    return refuse(
        Status.INTERNAL,
        "etcd returned a " + what + " this proxy cannot read (" + why + "); it was not forwarded");
  }

  /**
   * Whether {@code m} carries fields this proxy's protos do not define. Every unknown field has a
   * tag, so a set that serializes to no bytes is empty; {@code asMap()} would clone a TreeMap per
   * message (per KeyValue of a list).
   */
  static boolean hasUnknownFields(GeneratedMessageV3 m) {
    return m.getUnknownFields().getSerializedSize() != 0;
  }

  /** Clients show a status description as one line: longer ones are cut here. */
  static final int MAX_DESCRIPTION = 299;

  static StatusException refuse(Status status, String message) {
    return status.withDescription(oneLine(PREFIX + message)).asException();
  }

  /**
   * The first line of {@code description}, at most {@value #MAX_DESCRIPTION} characters: a cause
   * that carries a stack trace or a dump must not reach clients (etcdctl printed 6.6 KB of frames).
   */
  static String oneLine(String description) {
    int newline = description.indexOf('\n');
    String line = newline < 0 ? description : description.substring(0, newline);
    return line.length() <= MAX_DESCRIPTION ? line : line.substring(0, MAX_DESCRIPTION - 3) + "...";
  }

  /**
   * Begins the description of a failure to answer a write that etcd applied: clients (and the
   * metrics, which count these) can tell it from a write that was refused.
   */
  public static final String WRITE_APPLIED = PREFIX + "the write was applied: ";

  /**
   * The failure of a client's {@code write} (Put, DeleteRange, a Txn that wrote) whose answer could
   * not be opened after etcd applied it: it says so, so that a client does not retry blindly.
   */
  static Throwable afterApplied(String write, Throwable failure) {
    if (failure instanceof StatusException e
        && e.getStatus().getCode() == Status.Code.INTERNAL
        && e.getStatus().getDescription() != null
        && e.getStatus().getDescription().startsWith(PREFIX)) {
      String why = e.getStatus().getDescription().substring(PREFIX.length());
      return Status.INTERNAL
          .withDescription(
              oneLine(
                  WRITE_APPLIED
                      + "etcd applied the "
                      + write
                      + ", but its answer cannot be returned (retrying repeats the write): "
                      + why))
          .asException();
    }
    return failure;
  }

  /** The key as text for error messages; keys are names, never secrets. */
  static String printable(ByteString key) {
    return '"' + key.toStringUtf8() + '"';
  }
}
