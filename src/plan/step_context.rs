//! One step being bound and rendered: the spec it is in, its provider,
//! the variables it sees, and where in the spec to point about it.

use miette::SourceSpan;
use serde_saphyr::Spanned;

use crate::base::diagnostic::{Code, Diag, Source};
use crate::plan::provider::Provider;
use crate::plan::resolve::{Env, SpecKey, Vars};
use crate::spec::document::{Spec, Step};

/// One step being bound and rendered.
pub struct Ctx<'a> {
    pub spec: &'a Spec,
    pub index: usize,
    pub provider: &'a Provider,
    pub vars: &'a Vars<'a>,
    pub step_env: &'a Env,
}

impl Ctx<'_> {
    pub fn src(&self) -> &Source {
        self.spec.source()
    }

    pub fn step(&self) -> &Step {
        &self.spec.steps.value[self.index].value
    }

    pub fn key(&self, param: &str) -> SpecKey {
        SpecKey::new(format!("steps[{}].with.{param}", self.index))
    }

    pub fn span<T>(&self, node: &Spanned<T>) -> SourceSpan {
        self.spec.span(node)
    }

    /// A diagnostic for a provider whose definition does not hold together.
    pub fn provider_bug(&self, msg: &str) -> Diag {
        Diag::new(
            Code::ProviderInvalid,
            format!("provider `{}` is broken: {msg}", self.provider.name),
        )
        .help(format!("fix {}", self.provider.origin))
    }
}

/// Where to point when something is missing from `with:`.
pub fn with_anchor(cx: &Ctx) -> SourceSpan {
    let step = cx.step();
    step.with
        .as_ref()
        .map_or_else(|| cx.span(&step.provider), |w| cx.span(w))
}
