package io.etcdcrypt.bench;

import io.grpc.stub.StreamObserver;

/**
 * The four Secret operations as closed loops against one kube-apiserver ({@link ClosedLoop}: each
 * in-flight slot sends its next request when its previous answer arrived).
 */
final class KubeLoads {

  static final String CREATE_NS = "bench-create";
  static final String POOL_NS = "bench-pool";
  static final String LIST_NS = "bench-list";
  static final String POOL_PREFIX = "u-";
  static final String LIST_PREFIX = "l-";
  static final int POOL_SECRETS = 256;
  static final int LIST_SECRETS = 10_000;
  static final int PAGE = 500;

  private KubeLoads() {}

  /** What one kube-apiserver's loads share across slices: the pool's resourceVersions, names. */
  static final class State {
    final KubeApi api;
    final String value;
    final String[] poolVersions;
    long created;

    State(KubeApi api, String value, String[] poolVersions) {
      this.api = api;
      this.value = value;
      this.poolVersions = poolVersions;
    }
  }

  static ClosedLoop<KubeApi.Answer> of(KubeOp op, State s) {
    return switch (op) {
      case CREATE -> new Create(s);
      case UPDATE -> new Update(s);
      case GET -> new Get(s);
      case LIST -> new ListPages(s);
    };
  }

  private abstract static class Load extends ClosedLoop<KubeApi.Answer> {
    final State s;
    private final int okStatus;

    Load(State s, int okStatus) {
      this.s = s;
      this.okStatus = okStatus;
    }

    @Override
    boolean accept(int slot, KubeApi.Answer a) {
      return a.status() == okStatus;
    }
  }

  /** POST a new Secret. */
  private static final class Create extends Load {
    Create(State s) {
      super(s, 201);
    }

    @Override
    void send(int slot, StreamObserver<KubeApi.Answer> o) {
      String name;
      synchronized (s) {
        name = "c-" + (s.created++);
      }
      KubeApi.relay(s.api.create(CREATE_NS, KubeApi.secretJson(name, null, s.value)), o);
    }
  }

  /**
   * Pool keys cycled per slot: of N in flight, slot i owns Secrets i, i+N, ..., so one Secret has
   * one writer and every update carries the resourceVersion its last update returned.
   */
  private abstract static class PoolLoad extends Load {
    private int[] next;
    private int inFlight;

    PoolLoad(State s, int okStatus) {
      super(s, okStatus);
    }

    @Override
    void beforeSlice(int inFlight) {
      this.inFlight = inFlight;
      next = new int[inFlight];
      for (int i = 0; i < inFlight; i++) {
        next[i] = i;
      }
    }

    /** The pool index slot {@code slot} works on now. */
    int current(int slot) {
      return next[slot];
    }

    void advance(int slot) {
      int n = next[slot] + inFlight;
      next[slot] = n >= POOL_SECRETS ? slot : n;
    }
  }

  /** PUT a pool Secret with the resourceVersion it has (an optimistic-concurrency update). */
  private static final class Update extends PoolLoad {
    Update(State s) {
      super(s, 200);
    }

    @Override
    void send(int slot, StreamObserver<KubeApi.Answer> o) {
      int i = current(slot);
      String name = KubeApi.objectName(POOL_PREFIX, i);
      KubeApi.relay(
          s.api.update(POOL_NS, name, KubeApi.secretJson(name, s.poolVersions[i], s.value)), o);
    }

    @Override
    boolean accept(int slot, KubeApi.Answer a) {
      int i = current(slot);
      if (a.status() == 200) {
        s.poolVersions[i] = a.resourceVersion();
        advance(slot);
        return true;
      }
      if (a.status() == 409) {
        // Not expected (one writer per Secret); an answer lost earlier: read the version again.
        try {
          KubeApi.Answer now =
              s.api.raw(
                  "/api/v1/namespaces/"
                      + POOL_NS
                      + "/secrets/"
                      + KubeApi.objectName(POOL_PREFIX, i));
          s.poolVersions[i] = now.resourceVersion();
        } catch (Exception e) {
          // counted as the failed update it is; the next attempt tries again
        }
      }
      return false;
    }
  }

  /** GET a pool Secret (resourceVersion unset: a quorum read from etcd, not the watch cache). */
  private static final class Get extends PoolLoad {
    Get(State s) {
      super(s, 200);
    }

    @Override
    void send(int slot, StreamObserver<KubeApi.Answer> o) {
      KubeApi.relay(s.api.get(POOL_NS, KubeApi.objectName(POOL_PREFIX, current(slot))), o);
    }

    @Override
    boolean accept(int slot, KubeApi.Answer a) {
      advance(slot);
      return a.status() == 200;
    }
  }

  /**
   * Pages of {@value #PAGE} over the {@value #LIST_SECRETS} Secrets of the list namespace: each
   * slot pages through with the continue token and starts over after the last page. One operation
   * is one page.
   */
  private static final class ListPages extends Load {
    private String[] tokens;

    ListPages(State s) {
      super(s, 200);
    }

    @Override
    void beforeSlice(int inFlight) {
      tokens = new String[inFlight];
    }

    @Override
    void send(int slot, StreamObserver<KubeApi.Answer> o) {
      KubeApi.relay(s.api.listPage(LIST_NS, PAGE, tokens[slot]), o);
    }

    @Override
    boolean accept(int slot, KubeApi.Answer a) {
      // 410 Gone: the token's revision was compacted; start over.
      tokens[slot] = a.status() == 200 ? a.continueToken() : null;
      return a.status() == 200;
    }
  }
}
