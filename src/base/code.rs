//! Every diagnostic code, in one place: users search for them in logs and
//! docs, and a code spelled twice would be two codes.

macro_rules! codes {
    ($($name:ident => $text:literal,)*) => {
        /// What kind of problem a diagnostic reports.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Code {
            $($name,)*
        }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$name,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$name => $text,)*
                }
            }
        }
    };
}

codes! {
    EnvMissing => "stackhook::env::missing",
    ExecCredential => "stackhook::exec_credential",
    InitExists => "stackhook::init::exists",
    InitWrite => "stackhook::init::write",
    Kubeconfig => "stackhook::kubeconfig",
    KubeconfigPath => "stackhook::kubeconfig::path",
    Output => "stackhook::output",
    PreflightMissingCli => "stackhook::preflight::missing_cli",
    PreflightTokenExpired => "stackhook::preflight::token_expired",
    ProviderDir => "stackhook::provider::dir",
    ProviderInvalid => "stackhook::provider::invalid",
    ProviderRead => "stackhook::provider::read",
    ProviderUnknown => "stackhook::provider::unknown",
    RunCommit => "stackhook::run::commit",
    RunEnvFile => "stackhook::run::env_file",
    PreflightPath => "stackhook::preflight::path",
    RunInterrupted => "stackhook::run::interrupted",
    RunLock => "stackhook::run::lock",
    RunSetup => "stackhook::run::setup",
    RunSignals => "stackhook::run::signals",
    RunStepFailed => "stackhook::run::step_failed",
    RunTimeout => "stackhook::run::timeout",
    RunUnset => "stackhook::run::unset",
    SpecCliValue => "stackhook::spec::cli_value",
    SpecDuplicateKey => "stackhook::spec::duplicate_key",
    SpecDuplicateStep => "stackhook::spec::duplicate_step",
    SpecEmpty => "stackhook::spec::empty",
    SpecEncoding => "stackhook::spec::encoding",
    SpecEnvConflict => "stackhook::spec::env_conflict",
    SpecEnvName => "stackhook::spec::env_name",
    SpecExport => "stackhook::spec::export",
    SpecExtends => "stackhook::spec::extends",
    SpecInterpolation => "stackhook::spec::interpolation",
    SpecKubeconfig => "stackhook::spec::kubeconfig",
    SpecLiteralSecret => "stackhook::spec::literal_secret",
    SpecMissingKey => "stackhook::spec::missing_key",
    SpecMissingParam => "stackhook::spec::missing_param",
    SpecNoSteps => "stackhook::spec::no_steps",
    SpecNotFound => "stackhook::spec::not_found",
    SpecNul => "stackhook::spec::nul",
    SpecPath => "stackhook::spec::path",
    SpecOneOf => "stackhook::spec::one_of",
    SpecParamNotApplicable => "stackhook::spec::param_not_applicable",
    SpecParamType => "stackhook::spec::param_type",
    SpecParamValue => "stackhook::spec::param_value",
    SpecRead => "stackhook::spec::read",
    SpecRemovedParam => "stackhook::spec::removed_param",
    SpecReservedEnv => "stackhook::spec::reserved_env",
    SpecRetries => "stackhook::spec::retries",
    SpecStackId => "stackhook::spec::stack_id",
    SpecStepName => "stackhook::spec::step_name",
    SpecTimeout => "stackhook::spec::timeout",
    SpecUnknownKey => "stackhook::spec::unknown_key",
    SpecUnknownParam => "stackhook::spec::unknown_param",
    SpecVersion => "stackhook::spec::version",
    SpecYaml => "stackhook::spec::yaml",
    Template => "stackhook::template",
    TemplateSecret => "stackhook::template::secret_in_command",
    ValidateEmpty => "stackhook::validate::empty",
    ValidateNotFound => "stackhook::validate::not_found",
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_namespaced() {
        let mut seen = std::collections::BTreeSet::new();
        for code in Code::ALL {
            assert!(code.as_str().starts_with("stackhook::"), "{code}");
            assert!(seen.insert(code.as_str()), "{code} twice");
        }
    }
}
