package io.etcdcrypt.bench;

import java.util.ArrayList;
import java.util.List;

/**
 * What one run measures and for how long. Every scenario is measured on every target in short
 * slices, the targets taken round-robin (in a rotated order each round) and the rounds repeated, so
 * drift of a shared machine spreads over all targets alike instead of landing on whichever ran
 * last.
 */
record Plan(
    String name,
    List<Scenario> scenarios,
    int warmupRounds,
    long warmupSliceMillis,
    int rounds,
    long sliceMillis,
    List<Integer> valueSizes,
    List<Integer> listValueSizes) {

  static final int KIB = 1024;
  static final int WATCHERS = 100;
  static final int LIST_OBJECTS = 10_000;
  static final int LIST_PAGE = 500;

  /**
   * Keys per target and value size that update and get cycle over (enough for 64 slots with
   * disjoint keys).
   */
  static final int POOL_KEYS = 256;

  /**
   * The quick plan (under 3 minutes): 1 KiB values only; create/update/get at 16 and 64 in flight,
   * list at 64, watch with a window of 16; one warm-up round of 0.25 s slices, then 3 rounds of 0.3
   * s slices.
   */
  static Plan quick() {
    List<Scenario> s = new ArrayList<>();
    for (int level : List.of(16, 64)) {
      for (Op op : List.of(Op.CREATE, Op.UPDATE, Op.GET)) {
        s.add(new Scenario(op, level, KIB));
      }
    }
    s.add(new Scenario(Op.LIST, 64, KIB));
    s.add(new Scenario(Op.WATCH, 16, KIB));
    return new Plan("quick", s, 1, 250, 3, 300, List.of(KIB), List.of(KIB));
  }

  /**
   * The full plan: create/update/get at 1, 16 and 64 in flight with 1, 10 and 100 KiB values; list
   * at 1, 16 and 64 in flight over 1 KiB objects and at 1 and 16 over 10 KiB objects (a
   * 10,000-object list of 100 KiB values is a 1 GB read per list: not kube-apiserver's shape, left
   * out); watch with windows 1 and 16 at 1 KiB and 16 at 10 KiB. One warm-up round of 0.5 s slices,
   * then 4 rounds of 1 s slices.
   */
  static Plan full() {
    List<Scenario> s = new ArrayList<>();
    for (int size : List.of(KIB, 10 * KIB, 100 * KIB)) {
      for (int level : List.of(1, 16, 64)) {
        for (Op op : List.of(Op.CREATE, Op.UPDATE, Op.GET)) {
          s.add(new Scenario(op, level, size));
        }
      }
    }
    for (int level : List.of(1, 16, 64)) {
      s.add(new Scenario(Op.LIST, level, KIB));
    }
    for (int level : List.of(1, 16)) {
      s.add(new Scenario(Op.LIST, level, 10 * KIB));
    }
    s.add(new Scenario(Op.WATCH, 1, KIB));
    s.add(new Scenario(Op.WATCH, 16, KIB));
    s.add(new Scenario(Op.WATCH, 16, 10 * KIB));
    return new Plan(
        "full", s, 1, 500, 4, 1000, List.of(KIB, 10 * KIB, 100 * KIB), List.of(KIB, 10 * KIB));
  }

  Plan only(List<Op> ops) {
    List<Scenario> kept = scenarios.stream().filter(x -> ops.contains(x.op())).toList();
    return new Plan(
        name,
        kept,
        warmupRounds,
        warmupSliceMillis,
        rounds,
        sliceMillis,
        valueSizes,
        listValueSizes);
  }

  Plan onlySizes(List<Integer> sizes) {
    List<Scenario> kept = scenarios.stream().filter(x -> sizes.contains(x.valueBytes())).toList();
    return new Plan(
        name,
        kept,
        warmupRounds,
        warmupSliceMillis,
        rounds,
        sliceMillis,
        valueSizes.stream().filter(sizes::contains).toList(),
        listValueSizes.stream().filter(sizes::contains).toList());
  }

  Plan withSlices(int newRounds, long newSliceMillis) {
    return new Plan(
        name,
        scenarios,
        warmupRounds,
        warmupSliceMillis,
        newRounds,
        newSliceMillis,
        valueSizes,
        listValueSizes);
  }

  /** More warm-up rounds: profiles (--jfr) need the JIT done before the recording starts. */
  Plan withWarmupRounds(int newWarmupRounds) {
    return new Plan(
        name,
        scenarios,
        newWarmupRounds,
        warmupSliceMillis,
        rounds,
        sliceMillis,
        valueSizes,
        listValueSizes);
  }
}
