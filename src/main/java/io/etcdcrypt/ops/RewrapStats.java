package io.etcdcrypt.ops;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Live counters of a rewrap pass; updated from the scanning thread and the write callbacks, read by
 * progress.
 */
public final class RewrapStats {

  final AtomicLong total = new AtomicLong();
  final AtomicLong examined = new AtomicLong();
  final AtomicLong resolved = new AtomicLong();
  final AtomicLong passedOver = new AtomicLong();
  final AtomicLong current = new AtomicLong();
  final AtomicLong stale = new AtomicLong();
  final AtomicLong rewritten = new AtomicLong();
  final AtomicLong updatedConcurrently = new AtomicLong();
  final AtomicLong deletedConcurrently = new AtomicLong();
  final AtomicLong conflicts = new AtomicLong();
  final AtomicLong undecryptable = new AtomicLong();
  final AtomicLong failed = new AtomicLong();
  private final AtomicInteger listed = new AtomicInteger();
  private final ConcurrentLinkedQueue<KeyProblem> problems = new ConcurrentLinkedQueue<>();
  private final long startNanos = System.nanoTime();

  private final AtomicLong unauthenticated = new AtomicLong();
  private final ConcurrentLinkedQueue<KeyProblem> unauthenticatedKeys =
      new ConcurrentLinkedQueue<>();

  void problem(KeyProblem p) {
    if (listed.incrementAndGet() <= CensusResult.MAX_LISTED_KEYS) {
      problems.add(p);
    }
  }

  void leftUnauthenticated(KeyProblem p) {
    if (unauthenticated.incrementAndGet() <= CensusResult.MAX_LISTED_KEYS) {
      unauthenticatedKeys.add(p);
    }
  }

  /** Keys in the scanned ranges (after skipping what an earlier run finished). */
  public long total() {
    return total.get();
  }

  /** Keys read by the scan so far. */
  public long examined() {
    return examined.get();
  }

  /** Keys whose handling has ended, whatever the outcome: the progress bar's "done". */
  public long done() {
    return resolved.get();
  }

  /** Keys that are not objects of a selected resource, or plaintext of resources without a rule. */
  public long passedOver() {
    return passedOver.get();
  }

  /** Values already written the way the configuration writes now. */
  public long current() {
    return current.get();
  }

  /** Stale values found by the scan (what a dry run would rewrite). */
  public long stale() {
    return stale.get();
  }

  /** Stale values this run re-encrypted and wrote back. */
  public long rewritten() {
    return rewritten.get();
  }

  /** Stale values a client updated before the rewrite could, leaving a current value. */
  public long updatedConcurrently() {
    return updatedConcurrently.get();
  }

  /** Stale values deleted before the rewrite could write them. */
  public long deletedConcurrently() {
    return deletedConcurrently.get();
  }

  /** Rewrites retried because the value changed between read and write. */
  public long conflicts() {
    return conflicts.get();
  }

  public long undecryptable() {
    return undecryptable.get();
  }

  /** Stale values that could not be rewritten (encryption refused, etcd error, kept changing). */
  public long failed() {
    return failed.get();
  }

  /**
   * Stale values left as they were because only a format without integrity opened them (see {@link
   * Unauthenticated}).
   */
  public long unauthenticated() {
    return unauthenticated.get();
  }

  /** Those keys, with why (the first {@value CensusResult#MAX_LISTED_KEYS}). */
  public List<KeyProblem> unauthenticatedKeys() {
    return new ArrayList<>(unauthenticatedKeys);
  }

  /**
   * Undecryptable and failed keys with reasons (the first {@value CensusResult#MAX_LISTED_KEYS}).
   */
  public List<KeyProblem> problems() {
    return new ArrayList<>(problems);
  }

  public double elapsedSeconds() {
    return (System.nanoTime() - startNanos) / 1e9;
  }
}
