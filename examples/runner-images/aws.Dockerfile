# Spacelift runner image for EKS: Spacelift's own image already has the AWS
# CLI and kubectl; this adds stackhook, built static (musl) from this
# repository. Build from the repository root:
#   docker build -f examples/runner-images/aws.Dockerfile -t spacelift-runner-aws .
FROM rust:1-alpine AS stackhook
RUN apk add --no-cache musl-dev git
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM public.ecr.aws/spacelift/runner-terraform:latest
COPY --from=stackhook /src/target/release/stackhook /usr/local/bin/stackhook
# Fail the build, not the first run, if a CLI is missing.
RUN stackhook --version && aws --version && kubectl version --client
