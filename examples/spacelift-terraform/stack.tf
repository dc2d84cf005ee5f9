# One stack whose before-init hook logs kubectl in with stackhook.
# The spec is committed at the root of the stack's repository, at
# specs/k8s-prod.yaml (specs/<stack id>.yaml). Spacelift runs hooks in the
# project root, /mnt/workspace/source/stacks/k8s-prod: `stackhook run` looks
# for specs/<stack id>.yaml there, then in each parent up to the repository
# root, and finds it.

terraform {
  required_providers {
    spacelift = {
      source = "spacelift-io/spacelift"
    }
  }
}

resource "spacelift_stack" "k8s_prod" {
  name         = "k8s-prod"
  repository   = "infrastructure"
  branch       = "main"
  project_root = "stacks/k8s-prod"

  # A runner image with gcloud, kubectl and stackhook (runner-images/gcp.Dockerfile).
  runner_image = "ghcr.io/acme/spacelift-runner-gcp:latest"

  # The single hook line. The kubeconfig it writes holds no credential: its
  # user runs `stackhook exec-credential`, which reads the
  # GOOGLE_OAUTH_ACCESS_TOKEN that Spacelift's GCP integration sets afresh in
  # every phase, so kubectl, Helm and Terraform's providers keep working in
  # later phases and in a resumed run's new container. Nothing to source.
  before_init = [
    "stackhook run",
  ]
}

# The kubeconfig lives in the workspace, the one directory a resumed run's
# new container keeps; kubectl and every phase read it from here.
resource "spacelift_environment_variable" "kubeconfig" {
  stack_id   = spacelift_stack.k8s_prod.id
  name       = "KUBECONFIG"
  value      = "/mnt/workspace/.kube/config"
  write_only = false
}

# The spec's variables, set on the stack (GOOGLE_OAUTH_ACCESS_TOKEN comes
# from Spacelift's GCP integration).
resource "spacelift_environment_variable" "cluster" {
  stack_id   = spacelift_stack.k8s_prod.id
  name       = "GKE_CLUSTER_NAME"
  value      = "prod"
  write_only = false
}

resource "spacelift_environment_variable" "region" {
  stack_id   = spacelift_stack.k8s_prod.id
  name       = "GKE_CLUSTER_REGION"
  value      = "europe-west1"
  write_only = false
}

resource "spacelift_environment_variable" "project" {
  stack_id   = spacelift_stack.k8s_prod.id
  name       = "GCP_PROJECT_NAME"
  value      = "acme-prod"
  write_only = false
}
