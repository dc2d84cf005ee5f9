# Spacelift runner image for AKS: the Azure CLI, kubectl and kubelogin
# (installed by `az aks install-cli`), and stackhook's static binary, copied
# from its release image (no Rust toolchain needed):
#   docker build -f examples/runner-images/azure.Dockerfile -t spacelift-runner-azure .
FROM mcr.microsoft.com/azure-cli:2.76.0
RUN az aks install-cli --install-location /usr/local/bin/kubectl --kubelogin-install-location /usr/local/bin/kubelogin
COPY --from=ghcr.io/stackhook/stackhook:0.1.0 /stackhook /usr/local/bin/stackhook
# Fail the build, not the first run, if a CLI is missing.
RUN stackhook --version && az version && kubectl version --client && kubelogin --version
