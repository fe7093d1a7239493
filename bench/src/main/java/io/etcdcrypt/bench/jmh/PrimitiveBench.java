package io.etcdcrypt.bench.jmh;

import java.security.SecureRandom;
import java.util.concurrent.TimeUnit;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.crypto.engines.XSalsa20Engine;
import org.bouncycastle.crypto.macs.Poly1305;
import org.bouncycastle.crypto.params.KeyParameter;
import org.bouncycastle.crypto.params.ParametersWithIV;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The raw primitives under the providers, with warm objects and no framing: JCE AES-256-GCM and
 * AES-256-CBC (PKCS#5), and BouncyCastle's XSalsa20 + Poly1305 (NaCl secretbox). The gap to {@link
 * ProviderBench} is what the provider adds (prefix walk, key resolution, copies, nonce generation,
 * for KMS the envelope).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class PrimitiveBench {

  @Param({"1024", "10240", "102400"})
  public int size;

  private final SecureRandom random = new SecureRandom();
  private final byte[] aad = "/registry/secrets/default/bench".getBytes();
  private SecretKeySpec aes;
  private byte[] key32;
  private Cipher gcm;
  private Cipher cbc;
  private byte[] plaintext;
  private byte[] gcmNonce = new byte[12];
  private byte[] gcmSealed;
  private byte[] cbcIv = new byte[16];
  private byte[] cbcSealed;
  private byte[] boxNonce = new byte[24];
  private byte[] boxSealed;

  @Setup
  public void setUp() throws Exception {
    key32 = new byte[32];
    random.nextBytes(key32);
    aes = new SecretKeySpec(key32, "AES");
    gcm = Cipher.getInstance("AES/GCM/NoPadding");
    cbc = Cipher.getInstance("AES/CBC/PKCS5Padding");
    plaintext = new byte[size];
    random.nextBytes(plaintext);
    gcmSealed = gcmSeal();
    cbcSealed = cbcEncrypt();
    boxSealed = secretboxSeal();
  }

  @Benchmark
  public byte[] gcmSeal() throws Exception {
    random.nextBytes(gcmNonce);
    gcm.init(Cipher.ENCRYPT_MODE, aes, new GCMParameterSpec(128, gcmNonce));
    gcm.updateAAD(aad);
    return gcm.doFinal(plaintext);
  }

  @Benchmark
  public byte[] gcmOpen() throws Exception {
    gcm.init(Cipher.DECRYPT_MODE, aes, new GCMParameterSpec(128, gcmNonce));
    gcm.updateAAD(aad);
    return gcm.doFinal(gcmSealed);
  }

  @Benchmark
  public byte[] cbcEncrypt() throws Exception {
    random.nextBytes(cbcIv);
    cbc.init(Cipher.ENCRYPT_MODE, aes, new IvParameterSpec(cbcIv));
    return cbc.doFinal(plaintext);
  }

  @Benchmark
  public byte[] cbcDecrypt() throws Exception {
    cbc.init(Cipher.DECRYPT_MODE, aes, new IvParameterSpec(cbcIv));
    return cbc.doFinal(cbcSealed);
  }

  @Benchmark
  public byte[] secretboxSeal() {
    random.nextBytes(boxNonce);
    XSalsa20Engine stream = new XSalsa20Engine();
    stream.init(true, new ParametersWithIV(new KeyParameter(key32), boxNonce));
    byte[] polyKey = new byte[32];
    stream.processBytes(polyKey, 0, 32, polyKey, 0);
    Poly1305 mac = new Poly1305();
    mac.init(new KeyParameter(polyKey));
    byte[] out = new byte[16 + plaintext.length];
    stream.processBytes(plaintext, 0, plaintext.length, out, 16);
    mac.update(out, 16, plaintext.length);
    mac.doFinal(out, 0);
    return out;
  }

  @Benchmark
  public byte[] secretboxOpen() {
    XSalsa20Engine stream = new XSalsa20Engine();
    stream.init(false, new ParametersWithIV(new KeyParameter(key32), boxNonce));
    byte[] polyKey = new byte[32];
    stream.processBytes(polyKey, 0, 32, polyKey, 0);
    Poly1305 mac = new Poly1305();
    mac.init(new KeyParameter(polyKey));
    int n = boxSealed.length - 16;
    mac.update(boxSealed, 16, n);
    byte[] tag = new byte[16];
    mac.doFinal(tag, 0);
    if (!java.security.MessageDigest.isEqual(tag, java.util.Arrays.copyOf(boxSealed, 16))) {
      throw new IllegalStateException("secretbox tag mismatch");
    }
    byte[] out = new byte[n];
    stream.processBytes(boxSealed, 16, n, out, 0);
    return out;
  }
}
