# notariat as one `deno compile` binary in a distroless image (glibc, CA roots and a nonroot user; no shell).
# The build stage downloads Deno's runtime (denort) for `deno compile`: build where that network access exists.
#
# Trust: the binary verifies TLS with Deno's built-in Mozilla root store, not the image's CA bundle (set
# DENO_TLS_CA_STORE=system to use that instead); public ACME CAs such as Let's Encrypt need nothing more. For a
# private ACME CA pass `-acme-ca FILE`. The API server is trusted through the service account's ca.crt.
#
# Nothing is written at run time: modules and npm packages are embedded in the binary (no DENO_DIR is read or
# created), the V8 code cache that compiled binaries otherwise save after their first start is turned off
# (--no-code-cache), and notariat keeps all its state in Kubernetes (it has no --allow-write). So the
# Deployment's readOnlyRootFilesystem needs no writable volume.
FROM denoland/deno:2.9.6 AS build
WORKDIR /src
COPY deno.json deno.lock ./
RUN deno install --frozen
COPY main.ts ./
COPY src/ src/
RUN deno compile --frozen --no-code-cache --unstable-net --allow-net --allow-read --allow-env --allow-sys \
    --output /out/notariat main.ts

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/notariat /notariat
USER 65532:65532
ENTRYPOINT ["/notariat"]
