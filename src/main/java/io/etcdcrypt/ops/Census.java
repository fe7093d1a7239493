package io.etcdcrypt.ops;

import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.etcd.mvccpb.KeyValue;
import io.grpc.Channel;
import java.time.Duration;
import java.util.List;

/**
 * Counts, per resource, how the stored values are kept: plaintext, under which provider and key,
 * under which KMS key id, or unreadable. It reads every key of its scopes at one pinned revision
 * and writes nothing.
 *
 * <p>Every value of a configured resource is opened (with the configuration's own providers),
 * because that is the only way to tell a readable value from an undecryptable one; the label itself
 * comes from the stored prefix and, for KMS v2, from the EncryptedObject's key id.
 */
public final class Census {

  private final EncryptionCodec codec;
  private final RangeScanner scanner;

  public Census(EncryptionCodec codec, Channel channel, int pageSize, Duration callTimeout) {
    this.codec = codec;
    this.scanner = new RangeScanner(channel, pageSize, callTimeout);
  }

  public CensusResult run(List<Scope> scopes) throws InterruptedException {
    CensusResult result = new CensusResult();
    for (Scope scope : scopes) {
      scanner.scan(
          scope.start(),
          scope.end(),
          page -> {
            for (KeyValue kv : page) {
              StoredAs v = StoredAs.classify(codec, kv.getKey(), kv.getValue());
              if (v != null && scope.selection().includes(v.resource())) {
                result.add(StoredAs.printable(kv.getKey()), v);
              }
            }
            return true;
          });
    }
    result.revision(scanner.revision());
    return result;
  }
}
