package io.etcdcrypt.observe;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class AdminServerTest {

  @Test
  void verboseReadinessIsOneLinePerCheckEvenWhenAReasonCarriesADump() throws Exception {
    try (AdminServer admin = new AdminServer(new InetSocketAddress("127.0.0.1", 0))) {
      admin.addReadinessCheck(HealthCheck.of("etcd", Optional::empty));
      admin.addReadinessCheck(
          HealthCheck.of(
              "kms-providers",
              () ->
                  Optional.of(
                      "kmsv2 Provider a is not healthy, error: no KMS plugin socket at /s\n"
                          + "\tat io.grpc.Status.asRuntimeException(Status.java:1)\n"
                          + "\tat somewhere.else(Else.java:2)")));
      admin.start();

      HttpResponse<String> response =
          HttpClient.newHttpClient()
              .send(
                  HttpRequest.newBuilder(
                          URI.create(
                              "http://127.0.0.1:" + admin.address().getPort() + "/readyz?verbose"))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());

      assertEquals(500, response.statusCode());
      assertEquals(
          List.of(
              "[+]etcd ok",
              "[-]kms-providers failed: kmsv2 Provider a is not healthy, error: no KMS plugin"
                  + " socket at /s",
              "readyz check failed"),
          response.body().lines().toList());
    }
  }
}
