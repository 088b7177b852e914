# parley in a container: a static binary on an empty base, run as a
# non-root user, its state in the /data volume.
#
#   docker build -t parley .
#   docker run -p 443:443/tcp -p 443:443/udp -v parley-data:/data parley \
#       --domain meet.example.org --public-ip 203.0.113.7 --acme
#
# The media port is UDP and TCP on the same number as --listen: publish both,
# and give --public-ip the address clients reach (the container's own address
# is not it). deploy/compose.yaml does the same with Compose.
#
# With BuildKit, --build-arg BINARY=prebuilt takes dist/parley-linux-amd64
# (scripts/release.sh, renamed) instead of compiling: for machines that
# cannot pull the golang image.

ARG BINARY=source

FROM golang:1.26-bookworm AS source
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/parley ./cmd/parley \
 && cp /etc/ssl/certs/ca-certificates.crt /out/

FROM scratch AS prebuilt
COPY dist/parley-linux-amd64 /out/parley
COPY dist/ca-certificates.crt /out/

FROM ${BINARY} AS binary

FROM scratch
COPY --from=binary /out/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=binary /out/parley /parley
# /data belongs to the user parley runs as; the volume keeps it.
COPY --chown=65532:65532 deploy/docker-data/ /data/
WORKDIR /data
USER 65532:65532
VOLUME /data
EXPOSE 443/tcp 443/udp
ENTRYPOINT ["/parley", "serve", "--data", "/data", "--listen", ":443", "--c2s", ""]
