package io.etcdcrypt.observe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The admin endpoint: exact paths, GET and HEAD only, one line per check, never a wait. */
@Timeout(30)
class AdminServerTest {

  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private AdminServer admin;

  @BeforeEach
  void start() throws Exception {
    admin = new AdminServer(new InetSocketAddress("127.0.0.1", 0));
    admin.route("/metrics", query -> AdminServer.Response.text(200, "metrics\n"));
  }

  @AfterEach
  void stop() {
    admin.close();
  }

  @Test
  void verboseReadinessIsOneLinePerCheckEvenWhenAReasonCarriesADump() throws Exception {
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

    HttpResponse<String> response = get("/readyz?verbose");

    assertEquals(500, response.statusCode());
    assertEquals(
        List.of(
            "[+]etcd ok",
            "[-]kms-providers failed: kmsv2 Provider a is not healthy, error: no KMS plugin"
                + " socket at /s",
            "readyz check failed"),
        response.body().lines().toList());
  }

  @Test
  void pathsMatchExactly() throws Exception {
    admin.addReadinessCheck(HealthCheck.of("etcd", Optional::empty));
    admin.start();

    assertEquals(200, get("/metrics").statusCode());
    assertEquals(200, get("/readyz").statusCode());
    assertEquals(200, get("/readyz/etcd").statusCode());
    assertEquals(200, get("/livez").statusCode());
    for (String wrong :
        List.of("/metricsfoo", "/metrics/", "/readyzz", "/readyz/", "/readyz/etcd/x", "/livez2")) {
      HttpResponse<String> response = get(wrong);
      assertEquals(404, response.statusCode(), wrong + ": " + response.body());
    }
    assertEquals("no check named kms\n", get("/readyz/kms").body());
  }

  @Test
  void onlyGetAndHeadAreServed() throws Exception {
    admin.start();
    for (String method : List.of("POST", "PUT", "DELETE", "OPTIONS")) {
      HttpResponse<String> response =
          http.send(
              request("/metrics").method(method, HttpRequest.BodyPublishers.noBody()).build(),
              HttpResponse.BodyHandlers.ofString());
      assertEquals(405, response.statusCode(), method);
      assertEquals(Optional.of("GET, HEAD"), response.headers().firstValue("Allow"), method);
    }
    HttpResponse<String> head =
        http.send(
            request("/livez").method("HEAD", HttpRequest.BodyPublishers.noBody()).build(),
            HttpResponse.BodyHandlers.ofString());
    assertEquals(200, head.statusCode());
    assertEquals("", head.body());
  }

  @Test
  void aHungCheckDelaysNeitherLivezNorReadyz() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    HealthCheck hung =
        HealthCheck.of(
            "kms-providers",
            () -> {
              try {
                release.await();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              return Optional.empty();
            });
    BackgroundChecks background =
        BackgroundChecks.start(
            List.of(HealthCheck.of("etcd", Optional::empty), hung), Duration.ofMillis(50));
    admin.addReadinessChecks(background);
    admin.start();
    try {
      // Both of the endpoint's threads would be held by /readyz if checks ran in the handler.
      for (int i = 0; i < 10; i++) {
        assertEquals(200, get("/livez").statusCode());
        HttpResponse<String> ready = get("/readyz?verbose");
        assertEquals(500, ready.statusCode());
        assertTrue(ready.body().contains("[-]kms-providers failed: not checked yet"), ready.body());
      }
    } finally {
      release.countDown();
    }
    assertEventuallyReady();
  }

  private void assertEventuallyReady() throws Exception {
    for (int attempt = 0; attempt < 200; attempt++) {
      if (get("/readyz").statusCode() == 200) {
        return;
      }
      Thread.sleep(25);
    }
    throw new AssertionError("/readyz did not pass after the hung check returned");
  }

  private HttpRequest.Builder request(String pathAndQuery) {
    return HttpRequest.newBuilder(
            URI.create("http://127.0.0.1:" + admin.address().getPort() + pathAndQuery))
        .timeout(Duration.ofSeconds(2));
  }

  private HttpResponse<String> get(String pathAndQuery) throws Exception {
    return http.send(request(pathAndQuery).build(), HttpResponse.BodyHandlers.ofString());
  }
}
