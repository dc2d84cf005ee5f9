//! The kubeconfig: whether one is usable, editing the user and context a
//! cloud CLI wrote, and the exec credential that kubectl, Helm and
//! Terraform run at call time.
//!
//! In: a kubeconfig path, or KUBERNETES_EXEC_INFO and a token's source.
//! Out: a checked or edited kubeconfig, or an `ExecCredential` on stdout.
//! Uses: base.

pub mod kubeconfig;
pub mod kubeconfig_edit;
pub mod exec_credential;
