# Sever's container image: a build stage with the Rust toolchain, and a runtime stage with
# only the binary, the shipped adapters and a default config on distroless (glibc, CA
# certificates, no shell, no package manager, no curl: the health check is `sever health`).
#
#   docker build -t sever:0.1.0 .
#   docker run --read-only -v sever-state:/var/lib/sever -p 8080:8080 \
#       -e ONCALL_TOKEN -e CEDALO_TOKEN -v "$PWD/my-sever.yaml:/etc/sever/sever.yaml:ro" sever:0.1.0
#
# It runs as the unprivileged user 65532 and writes only to /var/lib/sever (the audit
# log), so the root file system can be mounted read-only. Checked by `scripts/test`
# (hadolint, and `sever check` of the default config); see docs/operations.md.

FROM docker.io/library/rust:1.95-slim-bookworm AS build
# cmake and a C compiler: pingora's zlib-ng (libz-ng-sys), ring, zstd-sys.
# Debian's versions are those of the pinned base image; pinning each again would only
# break the build at the next point release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake gcc libc6-dev make pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked \
        -p sever -p sever-cedalo -p sever-alibaba-mqtt -p sever-privx \
        -p sever-nexus -p sever-iudx -p sever-rabbitmq \
        -p sever-redis -p sever-postgresql -p sever-mosquitto -p sever-nats \
        -p sever-keycloak -p sever-okta -p sever-entra-id \
        -p sever-emqx -p sever-hivemq -p sever-aws-iot \
    && mkdir -p /out/usr/local/bin /out/usr/local/lib/sever /out/var/lib/sever \
    && cp target/release/sever /out/usr/local/bin/ \
    && cp target/release/libsever_cedalo.so target/release/libsever_alibaba_mqtt.so \
          target/release/libsever_privx.so target/release/libsever_nexus.so \
          target/release/libsever_iudx.so target/release/libsever_rabbitmq.so \
          target/release/libsever_redis.so target/release/libsever_postgresql.so \
          target/release/libsever_mosquitto.so target/release/libsever_nats.so \
          target/release/libsever_keycloak.so target/release/libsever_okta.so \
          target/release/libsever_entra_id.so target/release/libsever_emqx.so \
          target/release/libsever_hivemq.so target/release/libsever_aws_iot.so \
          /out/usr/local/lib/sever/

# distroless/cc: the glibc, libgcc_s and libm that `sever` and the adapters link (ldd),
# the same Debian 12 as the build stage.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/usr/local /usr/local
COPY --from=build --chown=65532:65532 /out/var/lib/sever /var/lib/sever
COPY deploy/container/sever.yaml /etc/sever/sever.yaml
USER 65532:65532
WORKDIR /var/lib/sever
VOLUME ["/var/lib/sever"]
ENV SEVER_CONFIG=/etc/sever/sever.yaml
EXPOSE 8080 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/sever", "health", "--url", "http://127.0.0.1:8080", "--timeout-ms", "2000"]
ENTRYPOINT ["/usr/local/bin/sever"]
CMD ["serve"]
