package io.etcdcrypt.proxy;

import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.grpc.Status;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Room in direct memory for etcd's answers to lists. A Range over many keys (a page of 500 Secrets
 * is 5 MiB when they hold 10 KiB each) comes back as one message the proxy holds whole, in direct
 * memory, once as it arrives from etcd and again as it leaves for the client; answers are never
 * refused, so when many lists run at once their answers can exhaust the JVM's direct memory, and
 * then the connection to etcd fails with every call on it. So a list goes to etcd only while the
 * answers of the lists already there, as large as recent ones were, fit in the share of direct
 * memory kept for answers; otherwise it waits here, in order, until one of them has reached its
 * client. Waiting costs a list some latency instead of failing it and its neighbours, and etcd,
 * which serves lists from 2 cores at most a few at a time, loses no throughput.
 *
 * <p>One list always goes, so that an answer larger than the whole share is still served. Gets
 * (limit 1), counts and keys-only lists bring back little and never wait. A client that gives up
 * while its list waits leaves the line; its list never reaches etcd.
 */
final class ListRoom {

  /**
   * What one answer is expected to take before any has been seen: a page of 500 objects of 8 KiB,
   * so that the lists of a cold proxy (kube-apiserver filling its caches at start) begin a few at a
   * time.
   */
  static final long FIRST_GUESS = 4L << 20;

  private final long share;
  private final Object lock = new Object();
  private final ArrayDeque<Ticket> line = new ArrayDeque<>(); // guarded by lock
  private long reserved; // guarded by lock
  private long expected = FIRST_GUESS; // guarded by lock
  private long waited; // guarded by lock

  /**
   * @param share the direct-memory bytes the answers of lists may take at once
   */
  ListRoom(long share) {
    if (share <= 0) {
      throw new IllegalArgumentException("the room for list answers must be positive");
    }
    this.share = share;
  }

  /**
   * The room of a JVM whose direct memory is {@code direct}: half of it, the half requests leave.
   */
  static ListRoom of(DirectMemory direct) {
    return new ListRoom(Math.max(1, direct.limit() / 2));
  }

  /** Whether {@code request} may bring back many values, and so waits for room. */
  static boolean isList(RangeRequest request) {
    return !request.getRangeEnd().isEmpty()
        && request.getLimit() != 1
        && !request.getCountOnly()
        && !request.getKeysOnly();
  }

  /** Lines up a list: its ticket's {@link Ticket#admitted()} completes when it may go to etcd. */
  Ticket enter() {
    Ticket ticket = new Ticket();
    boolean goes;
    synchronized (lock) {
      goes = line.isEmpty() && fits(reservation());
      if (goes) {
        ticket.take(reservation());
        reserved += ticket.reserved;
      } else {
        line.addLast(ticket);
        waited++;
      }
    }
    if (goes) {
      ticket.admitted.complete(null);
    }
    return ticket;
  }

  /**
   * The list of {@code ticket} is over: its answer, of {@code answerBytes} (0 when none came),
   * reached its client or never will. Frees its room for the lists in line, or takes it out of the
   * line (its {@link Ticket#admitted()} then fails with CANCELLED). Any second call does nothing.
   */
  void leave(Ticket ticket, long answerBytes) {
    List<Ticket> admitted = new ArrayList<>();
    boolean droppedFromLine = false;
    synchronized (lock) {
      if (ticket.left) {
        return;
      }
      ticket.left = true;
      if (ticket.reserved == 0) {
        droppedFromLine = line.remove(ticket);
      } else {
        reserved -= ticket.reserved;
        learn(answerBytes);
      }
      while (!line.isEmpty() && fits(reservation())) {
        Ticket next = line.removeFirst();
        next.take(reservation());
        reserved += next.reserved;
        admitted.add(next);
      }
    }
    if (droppedFromLine) {
      ticket.admitted.completeExceptionally(
          Status.CANCELLED
              .withDescription("the client gave up while its list waited")
              .asException());
    }
    admitted.forEach(t -> t.admitted.complete(null));
  }

  /** Lists waiting now. */
  long waiting() {
    synchronized (lock) {
      return line.size();
    }
  }

  /** Lists that had to wait, so far. */
  long waited() {
    synchronized (lock) {
      return waited;
    }
  }

  /** Lock held. */
  private boolean fits(long bytes) {
    return reserved == 0 || reserved + bytes <= share;
  }

  /** An answer is held twice: as it arrives and as it leaves. Lock held. */
  private long reservation() {
    return 2 * expected;
  }

  /**
   * Follows the size of answers: up at once to a larger one, down an eighth of the way to a smaller
   * one, so that one small page does not let in a crowd of large ones. Lock held.
   */
  private void learn(long answerBytes) {
    if (answerBytes <= 0) {
      return;
    }
    expected = answerBytes >= expected ? answerBytes : expected - (expected - answerBytes) / 8;
  }

  /** One list's place: in line, then in the room. */
  static final class Ticket {
    private final CompletableFuture<Void> admitted = new CompletableFuture<>();
    private long reserved; // guarded by the room's lock; 0 while in line
    private boolean left; // guarded by the room's lock

    /** Completes when the list may go to etcd. */
    CompletableFuture<Void> admitted() {
      return admitted;
    }

    private void take(long bytes) {
      reserved = bytes;
    }
  }
}
