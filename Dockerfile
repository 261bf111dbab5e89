# The imagegen binary in a small image: one image for every subcommand
# (serve, worker, dev, stdio). docker-compose.yml builds it for the server
# and the workers; deploy/compose_test.go checks the two files agree.

# Build stage. The Go version follows go.mod's "go" line (same minor).
FROM golang:1.26-alpine AS build
WORKDIR /src
# Modules first, in their own layer: editing a .go file does not download
# them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The build cache mount keeps rebuilds near 10 s (a cold build that embeds
# the Temporal server takes minutes). CGO is off: the embedded Temporal uses
# the pure-Go modernc SQLite driver, so the binary is static.
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/imagegen ./cmd/imagegen

# Runtime stage: Alpine rather than distroless because the compose health
# checks need a client for GET /healthz, and busybox wget is already here.
# CA certificates (for Workers AI and R2 over HTTPS) come with the base image.
FROM alpine:3.23
RUN adduser -D -H -u 10001 imagegen \
    && mkdir /data \
    && chown imagegen /data
COPY --from=build /out/imagegen /imagegen
USER imagegen
# /data holds the dev-mode Temporal database, local images and each worker's
# staging area (worker-id names the worker's own upload queue), so every
# container needs its own: the anonymous volume declared here gives each
# scaled worker replica one, and compose keeps it across re-creations.
ENV IMAGEGEN_DATA_DIR=/data \
    IMAGEGEN_ADDR=0.0.0.0:8080
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["/imagegen"]
CMD ["serve"]
