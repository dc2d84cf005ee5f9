# One context carries the hook line for every stack labelled `kubernetes`.
# Each stack's spec is found by its ID: specs/<stack id>.yaml at the root of
# the repository (Spacelift sets TF_VAR_spacelift_stack_id).

resource "spacelift_context" "kubernetes_login" {
  name        = "kubernetes-login"
  description = "Logs kubectl in with stackhook before init (spec: specs/<stack id>.yaml)"
  labels      = ["autoattach:kubernetes"]

  before_init = [
    "(cd /mnt/workspace/source && stackhook run --env-file /mnt/workspace/.stackhook.env)",
    ". /mnt/workspace/.stackhook.env",
  ]
}

resource "spacelift_stack" "k8s_staging" {
  name         = "k8s-staging"
  repository   = "infrastructure"
  branch       = "main"
  project_root = "stacks/k8s-staging"
  runner_image = "ghcr.io/acme/spacelift-runner-aws:latest"
  labels       = ["kubernetes"]
}

resource "spacelift_stack" "k8s_dev" {
  name         = "k8s-dev"
  repository   = "infrastructure"
  branch       = "main"
  project_root = "stacks/k8s-dev"
  runner_image = "ghcr.io/acme/spacelift-runner-aws:latest"
  labels       = ["kubernetes"]
}
