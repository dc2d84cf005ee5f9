//! How a command failed, which decides the exit code.

use crate::base::diagnostic::Diag;

pub enum Failure {
    /// Invalid input or a failed check before anything ran: exit 2.
    Invalid(Vec<Diag>),
    /// A command of the plan failed: exit 1.
    Failed(Vec<Diag>),
    /// Interrupted by signal N: exit 128+N.
    Interrupted(i32, Vec<Diag>),
}

impl Failure {
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Invalid(_) => 2,
            Failure::Failed(_) => 1,
            Failure::Interrupted(sig, _) => 128 + sig,
        }
    }

    pub fn into_diags(self) -> Vec<Diag> {
        match self {
            Failure::Invalid(d) | Failure::Failed(d) | Failure::Interrupted(_, d) => d,
        }
    }

    /// A run-time failure with one diagnostic.
    pub fn failed(diag: Diag) -> Self {
        Failure::Failed(vec![diag])
    }
}

impl From<Vec<Diag>> for Failure {
    fn from(d: Vec<Diag>) -> Self {
        Failure::Invalid(d)
    }
}

impl From<Diag> for Failure {
    fn from(d: Diag) -> Self {
        Failure::Invalid(vec![d])
    }
}
