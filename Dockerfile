# notariat as one `deno compile` binary in a distroless (scratch-like: glibc and CA roots only) image.
# The build stage downloads Deno's runtime for `deno compile`; build where that network access exists.
FROM denoland/deno:2.9.6 AS build
WORKDIR /src
COPY deno.json deno.lock ./
RUN deno install --frozen
COPY main.ts ./
COPY src/ src/
RUN deno compile --frozen --allow-net --allow-read --allow-env --allow-sys \
    --output /out/notariat main.ts

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/notariat /notariat
USER 65532:65532
ENTRYPOINT ["/notariat"]
