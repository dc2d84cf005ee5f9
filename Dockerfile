# An image that holds only stackhook, for runner images to copy from:
#
#   COPY --from=ghcr.io/stackhook/stackhook:0.1.0 /stackhook /usr/local/bin/stackhook
#
# It packs the released static binary, not a new build: the release files
# (scripts/release writes them to target/distrib) are the build context's
# input, and the binary is unpacked by install.sh, so it is checked against
# SHA256SUMS here as everywhere else. Build for both architectures with:
#
#   scripts/release
#   docker buildx build --platform linux/amd64,linux/arm64 -t ghcr.io/stackhook/stackhook:VERSION .
#
# The unpack stage runs on the target platform (under emulation for the other
# architecture), so install.sh picks that platform's archive.
FROM alpine:3.22 AS unpack
COPY target/distrib/ /release/
RUN sh /release/install.sh --base-url /release --to /out

# stackhook runs POSIX sh and the clouds' CLIs from the image it is copied
# into; it makes no TLS connection itself, so no CA certificates are needed.
FROM scratch
COPY --from=unpack /out/stackhook /stackhook
ENTRYPOINT ["/stackhook"]
