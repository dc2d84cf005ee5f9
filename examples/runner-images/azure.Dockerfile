# Spacelift runner image for AKS: the Azure CLI, kubectl and kubelogin
# (installed by `az aks install-cli`; kubelogin is the kubeconfig user of
# AKS clusters with Entra ID), stackhook's static binary, copied from its
# release image (no Rust toolchain needed), and the `spacelift` user
# (UID 1983) that Spacelift runs as. Spacelift's own `azure` image
# (runner-terraform:azure-latest) has az only: see README.md.
#   docker build -f examples/runner-images/azure.Dockerfile -t spacelift-runner-azure .
# The Azure CLI image is Azure Linux (Alpine no longer, since az 2.64):
# useradd comes with shadow-utils, from tdnf.
FROM mcr.microsoft.com/azure-cli:2.76.0
RUN az aks install-cli --install-location /usr/local/bin/kubectl --kubelogin-install-location /usr/local/bin/kubelogin \
  && tdnf install -y shadow-utils \
  && tdnf clean all \
  && useradd --uid 1983 --create-home --home-dir /home/spacelift spacelift
COPY --from=ghcr.io/stackhook/stackhook:0.1.0 /stackhook /usr/local/bin/stackhook
# By name, as in Spacelift's own images: the user is in this image's
# /etc/passwd.
# hadolint ignore=DL3066
USER spacelift
# Fail the build, not the first run, if a CLI is missing or the user is not
# the one Spacelift runs as.
RUN test "$(id -u)" = 1983 && stackhook --version && az version \
  && kubectl version --client && kubelogin --version
