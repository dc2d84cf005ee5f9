# One stack whose before-init hook logs kubectl in with stackhook.
# The spec is committed in the stack's repository at specs/k8s-prod.yaml.

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

  # The single hook line. --env-file carries exported variables (AKS needs
  # AAD_SERVICE_PRINCIPAL_*) into the later phases of the run.
  before_init = [
    "stackhook run --env-file /mnt/workspace/.stackhook.env specs/k8s-prod.yaml && . /mnt/workspace/.stackhook.env",
  ]
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
