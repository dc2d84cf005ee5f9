# Spacelift runner image for GKE: the Google Cloud CLI (Alpine) with kubectl
# and gke-gcloud-auth-plugin (the kubeconfig user of `auth: oidc`, e.g.
# specs/gke-oidc.yaml, and of `credentials: plugin`), stackhook's static
# binary, copied from its release image (no Rust toolchain needed), and the
# `spacelift` user (UID 1983) that Spacelift runs as. Spacelift's own `gcp`
# image (runner-terraform:gcp-latest) has gcloud and gke-gcloud-auth-plugin
# already: see README.md for when this one is needed.
#   docker build -f examples/runner-images/gcp.Dockerfile -t spacelift-runner-gcp .
FROM gcr.io/google.com/cloudsdktool/google-cloud-cli:alpine
RUN gcloud components install kubectl gke-gcloud-auth-plugin --quiet \
  && adduser -D -u 1983 -h /home/spacelift spacelift
COPY --from=ghcr.io/stackhook/stackhook:0.1.0 /stackhook /usr/local/bin/stackhook
# By name, as in Spacelift's own images: the user is in this image's
# /etc/passwd.
# hadolint ignore=DL3066
USER spacelift
# Fail the build, not the first run, if a CLI is missing or the user is not
# the one Spacelift runs as.
RUN test "$(id -u)" = 1983 && stackhook --version && gcloud --version \
  && kubectl version --client && gke-gcloud-auth-plugin --version
