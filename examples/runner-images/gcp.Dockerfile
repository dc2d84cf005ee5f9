# Spacelift runner image for GKE: the Google Cloud CLI (Alpine) with kubectl,
# and stackhook's static binary, copied from its release image (no Rust
# toolchain needed). The gke provider's token mode does not need
# gke-gcloud-auth-plugin.
#   docker build -f examples/runner-images/gcp.Dockerfile -t spacelift-runner-gcp .
FROM gcr.io/google.com/cloudsdktool/google-cloud-cli:alpine
RUN gcloud components install kubectl --quiet
COPY --from=ghcr.io/stackhook/stackhook:0.1.0 /stackhook /usr/local/bin/stackhook
# Fail the build, not the first run, if a CLI is missing.
RUN stackhook --version && gcloud --version && kubectl version --client
