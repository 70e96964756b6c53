# fleetgate's image: built in a Rust image, run from a small Debian one as a non-root user.
#   docker build -t fleetgate .
#   docker run --rm fleetgate validate /scenarios/smoke.toml
FROM rust:1.95-slim-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake clang perl pkg-config make \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p fleetgate \
    && install -D target/release/fleetgate /out/fleetgate

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --user-group --create-home --home-dir /work fleetgate \
    && install -d -o 10001 -g 10001 /reports
COPY --from=build /out/fleetgate /usr/local/bin/fleetgate
COPY scenarios /scenarios
USER 10001:10001
WORKDIR /work
ENTRYPOINT ["fleetgate"]
CMD ["--help"]
