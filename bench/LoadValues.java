// Writes N values of SIZE bytes under /registry/secrets/ through an etcd endpoint (the proxy, which encrypts them),
// 256 puts in flight. Run as a single-file program against the proxy jar:
//   java -cp target/etcd-crypt-proxy.jar bench/LoadValues.java HOST:PORT N SIZE
import com.google.protobuf.ByteString;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.PutResponse;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.util.Random;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

public class LoadValues {
  public static void main(String[] args) throws Exception {
    String target = args[0];
    int n = Integer.parseInt(args[1]);
    int size = Integer.parseInt(args[2]);
    ManagedChannel ch = NettyChannelBuilder.forTarget(target).usePlaintext().build();
    KVGrpc.KVStub kv = KVGrpc.newStub(ch);
    Semaphore window = new Semaphore(256);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Random random = new Random(42);
    byte[] value = new byte[size];
    long start = System.nanoTime();
    for (int i = 0; i < n && failure.get() == null; i++) {
      random.nextBytes(value);
      window.acquire();
      kv.put(
          PutRequest.newBuilder()
              .setKey(ByteString.copyFromUtf8(String.format("/registry/secrets/ns%d/s-%07d", i % 100, i)))
              .setValue(ByteString.copyFrom(value))
              .build(),
          new StreamObserver<PutResponse>() {
            public void onNext(PutResponse r) {}

            public void onError(Throwable t) {
              failure.compareAndSet(null, t);
              window.release();
            }

            public void onCompleted() {
              window.release();
            }
          });
    }
    window.acquire(256);
    ch.shutdown().awaitTermination(10, TimeUnit.SECONDS);
    if (failure.get() != null) {
      throw new IllegalStateException("a put failed", failure.get());
    }
    System.err.printf("wrote %d values of %d bytes in %.1f s%n", n, size, (System.nanoTime() - start) / 1e9);
  }
}
