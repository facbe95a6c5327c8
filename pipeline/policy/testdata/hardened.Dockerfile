# syntax=docker/dockerfile:1
ARG GO_IMAGE=golang:1.26@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
ARG BASE=gcr.io/distroless/static:nonroot@sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb

FROM ${GO_IMAGE} AS build
WORKDIR /src
# a comment inside a stage
COPY . .
RUN go build \
      -trimpath \
      -o /out/app .

FROM build AS test
RUN go test ./...

FROM $BASE
ENV LOG_LEVEL=info \
    TOKEN_FILE=/run/secrets/token
COPY --from=build /out/app /app
USER 65532:65532
ENTRYPOINT ["/app"]
