# Spacelift runner image for EKS, on Spacelift's own `aws` image
# (runner-terraform:latest), which already has the AWS CLI and the
# `spacelift` user (UID 1983) that Spacelift runs as; this adds stackhook's
# static binary, copied from its release image (no Rust toolchain needed).
# The image has no kubectl, and the EKS flow does not need it: verify checks
# the kubeconfig and says what it could not check. See README.md: with the
# stackhook plugin, Spacelift's image serves as it is.
#   docker build -f examples/runner-images/aws.Dockerfile -t spacelift-runner-aws .
# Spacelift publishes this image under moving tags only; pin its digest in
# production.
# hadolint ignore=DL3007
FROM public.ecr.aws/spacelift/runner-terraform:latest
COPY --from=ghcr.io/stackhook/stackhook:0.1.0 /stackhook /usr/local/bin/stackhook
# By name, as in Spacelift's own images: the user is in this image's
# /etc/passwd.
# hadolint ignore=DL3066
USER spacelift
# Fail the build, not the first run, if a CLI is missing or the user is not
# the one Spacelift runs as.
RUN test "$(id -u)" = 1983 && stackhook --version && aws --version
