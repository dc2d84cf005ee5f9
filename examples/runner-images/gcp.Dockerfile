# Spacelift runner image for GKE: the Google Cloud CLI (Alpine) with kubectl,
# and stackhook, built static (musl) from this repository. The gke provider's
# token mode does not need gke-gcloud-auth-plugin. Build from the repository
# root:
#   docker build -f examples/runner-images/gcp.Dockerfile -t spacelift-runner-gcp .
FROM rust:1-alpine AS stackhook
RUN apk add --no-cache musl-dev git
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM gcr.io/google.com/cloudsdktool/google-cloud-cli:alpine
RUN gcloud components install kubectl --quiet
COPY --from=stackhook /src/target/release/stackhook /usr/local/bin/stackhook
# Fail the build, not the first run, if a CLI is missing.
RUN stackhook --version && gcloud --version && kubectl version --client
