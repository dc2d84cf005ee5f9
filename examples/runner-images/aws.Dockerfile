# Spacelift runner image for EKS: Spacelift's own image already has the AWS
# CLI (it has no kubectl, and the EKS flow does not need it: verify checks
# the kubeconfig and says what it could not check); this adds stackhook's
# static binary, copied from its release image (no Rust toolchain needed):
#   docker build -f examples/runner-images/aws.Dockerfile -t spacelift-runner-aws .
FROM public.ecr.aws/spacelift/runner-terraform:latest
COPY --from=ghcr.io/stackhook/stackhook:0.1.0 /stackhook /usr/local/bin/stackhook
# Fail the build, not the first run, if a CLI is missing.
RUN stackhook --version && aws --version
