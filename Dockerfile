# One image for both the operator (`rekomi manager`) and the app (`rekomi app`).
FROM golang:1.26 AS build
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=devel
WORKDIR /src

# Dependencies first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download

COPY *.go ./
COPY api/ api/
COPY app/ app/
COPY controllers/ controllers/
COPY migrations/ migrations/
COPY pg/ pg/
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/rekomi .

# A static binary needs nothing but CA certificates (the app calls Stripe
# over TLS); it runs as an unprivileged user id.
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/rekomi /rekomi
USER 65532:65532
ENTRYPOINT ["/rekomi"]
