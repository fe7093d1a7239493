package io.etcdcrypt.testing;

import com.google.protobuf.ByteString;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import java.nio.charset.StandardCharsets;

/** Small helpers for the jetcd test client. */
public final class Clients {
  private Clients() {}

  public static Client jetcd(String... urls) {
    return Client.builder().endpoints(urls).build();
  }

  public static ByteSequence bs(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }

  public static ByteSequence bs(byte[] b) {
    return ByteSequence.from(b);
  }

  public static ByteString pb(String s) {
    return ByteString.copyFromUtf8(s);
  }
}
