# One context carries the hook line for every stack labelled `kubernetes`.
# Each stack's spec is found by its ID: specs/<stack id>.yaml at the root of
# the repository (Spacelift sets TF_VAR_spacelift_stack_id), found from the
# stack's project root by looking in each parent up to the repository root.

resource "spacelift_context" "kubernetes_login" {
  name        = "kubernetes-login"
  description = "Logs kubectl in with stackhook before init (spec: specs/<stack id>.yaml)"
  labels      = ["autoattach:kubernetes"]

  # One line: the kubeconfig gets credentials at call time, so later phases
  # need nothing sourced.
  before_init = [
    "stackhook run",
  ]
}

# The kubeconfig lives in the workspace, which a resumed run keeps.
resource "spacelift_environment_variable" "kubeconfig" {
  context_id = spacelift_context.kubernetes_login.id
  name       = "KUBECONFIG"
  value      = "/mnt/workspace/.kube/config"
  write_only = false
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
