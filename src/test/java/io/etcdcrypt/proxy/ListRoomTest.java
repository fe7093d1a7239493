package io.etcdcrypt.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.grpc.Status;
import io.grpc.StatusException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 10, unit = TimeUnit.SECONDS)
class ListRoomTest {

  private static final long MIB = 1 << 20;

  @Test
  void onlyRangesThatMayBringBackManyValuesWait() {
    RangeRequest list =
        RangeRequest.newBuilder()
            .setKey(ByteString.copyFromUtf8("/registry/secrets/"))
            .setRangeEnd(ByteString.copyFromUtf8("/registry/secrets0"))
            .setLimit(500)
            .build();
    assertTrue(ListRoom.isList(list));
    assertTrue(ListRoom.isList(list.toBuilder().setLimit(0).build()), "no limit: everything");
    assertFalse(ListRoom.isList(list.toBuilder().clearRangeEnd().build()), "one key");
    assertFalse(ListRoom.isList(list.toBuilder().setLimit(1).build()), "a get");
    assertFalse(ListRoom.isList(list.toBuilder().setCountOnly(true).build()), "a count");
    assertFalse(ListRoom.isList(list.toBuilder().setKeysOnly(true).build()), "keys only");
  }

  @Test
  void beforeAnyAnswerListsGoWhileTwiceTheFirstGuessEachFits() {
    // 64 MiB of room, 8 MiB reserved per list before any answer was seen: 8 go, the rest wait.
    ListRoom room = new ListRoom(64 * MIB);
    List<ListRoom.Ticket> tickets = enter(room, 10);
    assertEquals(8, admitted(tickets), "64 MiB / (2 x 4 MiB)");
    assertEquals(2, room.waiting());
    assertEquals(2, room.waited());
  }

  @Test
  void aListThatLeavesLetsTheFirstInLineGo() {
    ListRoom room = new ListRoom(2 * ListRoom.FIRST_GUESS);
    ListRoom.Ticket first = room.enter();
    ListRoom.Ticket second = room.enter();
    ListRoom.Ticket third = room.enter();
    assertTrue(first.admitted().isDone());
    assertFalse(second.admitted().isDone());
    room.leave(first, ListRoom.FIRST_GUESS);
    assertTrue(second.admitted().isDone(), "in order");
    assertFalse(third.admitted().isDone());
    room.leave(second, ListRoom.FIRST_GUESS);
    assertTrue(third.admitted().isDone());
    assertEquals(0, room.waiting());
  }

  @Test
  void oneListAlwaysGoesHoweverLargeItsAnswer() {
    ListRoom room = new ListRoom(MIB);
    ListRoom.Ticket alone = room.enter();
    assertTrue(alone.admitted().isDone(), "nothing else is in the room");
    room.leave(alone, 100 * MIB);
    ListRoom.Ticket next = room.enter();
    assertTrue(next.admitted().isDone(), "an answer larger than the room still goes, alone");
    assertFalse(room.enter().admitted().isDone(), "but not beside another");
  }

  @Test
  void smallAnswersLetMoreGoAtOnceAndOneLargeAnswerFewerAtOnce() {
    ListRoom room = new ListRoom(64 * MIB);
    // Pages of 500 objects of 1 KiB: after enough of them about 64 lists fit.
    for (int i = 0; i < 40; i++) {
      room.leave(room.enter(), 512 << 10);
    }
    int small = admitted(enter(room, 100));
    assertTrue(small >= 50, "half-MiB answers: " + small + " lists at once");

    ListRoom other = new ListRoom(64 * MIB);
    other.leave(other.enter(), 16 * MIB);
    assertEquals(2, admitted(enter(other, 10)), "after a 16 MiB answer, 2 x 32 MiB fit");
  }

  @Test
  void aClientThatGivesUpInLineLeavesItAndItsListNeverGoes() {
    ListRoom room = new ListRoom(2 * ListRoom.FIRST_GUESS);
    ListRoom.Ticket first = room.enter();
    ListRoom.Ticket quitter = room.enter();
    ListRoom.Ticket patient = room.enter();
    room.leave(quitter, 0);
    CompletionException gaveUp =
        assertThrows(CompletionException.class, () -> quitter.admitted().join());
    assertEquals(
        Status.Code.CANCELLED, ((StatusException) gaveUp.getCause()).getStatus().getCode());
    assertEquals(1, room.waiting());
    room.leave(first, 0); // no answer came: the guess stands
    assertTrue(patient.admitted().isDone());
    assertFalse(patient.admitted().isCompletedExceptionally());
  }

  @Test
  void leavingTwiceFreesTheRoomOnce() {
    ListRoom room = new ListRoom(2 * ListRoom.FIRST_GUESS);
    ListRoom.Ticket first = room.enter();
    ListRoom.Ticket second = room.enter();
    ListRoom.Ticket third = room.enter();
    room.leave(first, ListRoom.FIRST_GUESS);
    room.leave(first, ListRoom.FIRST_GUESS);
    assertTrue(second.admitted().isDone());
    assertFalse(third.admitted().isDone(), "the second's room was not freed by a repeat");
  }

  private static List<ListRoom.Ticket> enter(ListRoom room, int lists) {
    List<ListRoom.Ticket> tickets = new ArrayList<>();
    for (int i = 0; i < lists; i++) {
      tickets.add(room.enter());
    }
    return tickets;
  }

  private static int admitted(List<ListRoom.Ticket> tickets) {
    return (int) tickets.stream().filter(t -> t.admitted().isDone()).count();
  }
}
