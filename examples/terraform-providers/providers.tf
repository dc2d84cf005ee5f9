# Terraform's kubernetes and helm providers on the kubeconfig that the
# stackhook hook line wrote. They do not read KUBECONFIG, so they get the path
# (the same as the stack's KUBECONFIG variable). Nothing else is needed: the
# kubeconfig's user gets a token at call time (stackhook exec-credential,
# aws eks get-token, kubelogin or gke-gcloud-auth-plugin), in every phase.
#
# Alternatively, leave config_path out and run the hook with
# `stackhook run --env-file /mnt/workspace/.stackhook.env && . /mnt/workspace/.stackhook.env`:
# the env file exports KUBE_CONFIG_PATH, which both providers read.

terraform {
  required_providers {
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "~> 2.35"
    }
    helm = {
      source  = "hashicorp/helm"
      version = "~> 3.0"
    }
  }
}

locals {
  # Where stackhook writes the kubeconfig (the stack's KUBECONFIG).
  kubeconfig = "/mnt/workspace/.kube/config"
}

provider "kubernetes" {
  config_path = local.kubeconfig
  # With `context:` in the spec, the context is current already; naming it
  # here as well pins it:
  # config_context = "prod"
}

provider "helm" {
  kubernetes = {
    config_path = local.kubeconfig
  }
}

resource "kubernetes_namespace" "apps" {
  metadata {
    name = "apps"
  }
}
