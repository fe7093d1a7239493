# syntax=docker/dockerfile:1
# One image for both programs: the proxy (`serve`) and the bundled KMS plugin (`kms-plugin`).
#   docker build -t etcd-crypt-proxy:dev .
#   docker run --rm etcd-crypt-proxy:dev serve --help
#   docker run --rm etcd-crypt-proxy:dev kms-plugin --help

# --- build: the shaded jar ---------------------------------------------------------------------------------------
FROM maven:3-eclipse-temurin-17 AS build
WORKDIR /src
COPY pom.xml ./
COPY src ./src
# Tests need etcd, SoftHSM and friends; they run in CI (scripts/test.sh), not in the image build.
RUN --mount=type=cache,target=/root/.m2 mvn -B -ntp -Dmaven.test.skip=true package

# --- runtime: a JRE and the jar, as a non-root user -----------------------------------------------------------------
# Temurin 25, chosen by measurement (bench/README.md, "Runtime and start-up"): as fast as 17 once warm, faster KMS v2
# list pages, and it serves 2-3x more in its first seconds. The jar is built for Java 17 and runs on 17 as well.
FROM eclipse-temurin:25-jre
# A fixed numeric uid/gid, so that Kubernetes' runAsNonRoot can verify it and volumes can be shared between the
# proxy and the KMS plugin containers.
RUN groupadd --system --gid 65532 etcdcrypt \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin etcdcrypt \
 && mkdir -p /app /etc/etcd-crypt-proxy /var/run/kmsplugin /var/lib/kms-plugin \
 && chown 65532:65532 /var/run/kmsplugin /var/lib/kms-plugin \
 && chmod 0700 /var/lib/kms-plugin
COPY --from=build /src/target/etcd-crypt-proxy.jar /app/etcd-crypt-proxy.jar
# Heap, direct memory, metaspace and code cache set explicitly (README, "Memory"): the process's size follows from
# this file, not from the node it lands on.
COPY jvm.options /app/jvm.options
# An ahead-of-time cache (JDK 25: classes loaded and linked, method profiles), trained by `warm-up`, the load serve
# runs before /readyz passes: it needs no etcd and contacts nothing. serve then listens about 0.6 s sooner. A JVM
# whose options do not fit the cache says so in one warning line and runs without it.
RUN java -XX:AOTCacheOutput=/app/etcd-crypt-proxy.aot @/app/jvm.options -jar /app/etcd-crypt-proxy.jar warm-up --seconds 10 \
 && chmod 0644 /app/etcd-crypt-proxy.aot
USER 65532:65532
# 23790: the etcd v3 API (serve --listen-addr); 23791: /metrics, /livez, /readyz (serve --metrics-addr).
EXPOSE 23790 23791
ENTRYPOINT ["java", "@/app/jvm.options", "-XX:AOTCache=/app/etcd-crypt-proxy.aot", "-jar", "/app/etcd-crypt-proxy.jar"]
CMD ["--help"]
