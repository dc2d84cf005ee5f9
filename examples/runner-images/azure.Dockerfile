# Spacelift runner image for AKS: the Azure CLI, kubectl and kubelogin
# (installed by `az aks install-cli`), and stackhook, built static (musl)
# from this repository. Build from the repository root:
#   docker build -f examples/runner-images/azure.Dockerfile -t spacelift-runner-azure .
FROM rust:1-alpine AS stackhook
RUN apk add --no-cache musl-dev git
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM mcr.microsoft.com/azure-cli:2.76.0
RUN az aks install-cli --install-location /usr/local/bin/kubectl --kubelogin-install-location /usr/local/bin/kubelogin
COPY --from=stackhook /src/target/release/stackhook /usr/local/bin/stackhook
# Fail the build, not the first run, if a CLI is missing.
RUN stackhook --version && az version && kubectl version --client && kubelogin --version
