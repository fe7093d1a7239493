package io.etcdcrypt.crypto;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;

/** Small helpers for the stages transforms return. */
public final class Stages {

  private Stages() {}

  /**
   * The outcome of {@code stage}, waiting for it if need be: for callers that may wait (tools,
   * health checks, tests), never for the proxy's request path. A failure is rethrown as the {@link
   * TransformException} it completed with.
   */
  public static <T> T join(CompletionStage<T> stage) throws TransformException {
    try {
      return stage.toCompletableFuture().join();
    } catch (CompletionException | java.util.concurrent.CancellationException e) {
      throw asTransformException(e);
    }
  }

  /**
   * The outcome of a stage that is done, without waiting; a failure is rethrown as its
   * TransformException.
   */
  static <T> T now(CompletableFuture<T> done) throws TransformException {
    try {
      return done.join();
    } catch (CompletionException e) {
      throw asTransformException(e);
    }
  }

  /**
   * Completes {@code target} as another stage completed: with {@code value}, or exceptionally with
   * {@code error} when it is not null (the two arguments of {@code whenComplete}).
   */
  public static <T> void settle(CompletableFuture<T> target, T value, Throwable error) {
    if (error != null) {
      target.completeExceptionally(error);
    } else {
      target.complete(value);
    }
  }

  /** What a stage failed with, through CompletionException and ExecutionException wrappers. */
  public static Throwable cause(Throwable t) {
    while ((t instanceof CompletionException || t instanceof ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  /**
   * A failed stage's error as a TransformException: itself if it is one, else wrapped with its
   * message.
   */
  public static TransformException asTransformException(Throwable t) {
    Throwable cause = cause(t);
    if (cause instanceof TransformException te) {
      return te;
    }
    return new TransformException("the transform failed: " + cause, cause);
  }
}
