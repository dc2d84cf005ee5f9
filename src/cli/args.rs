//! The command line: clap definitions and help texts.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The version with the commit it was built from (see build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("STACKHOOK_GIT_COMMIT"),
    ")"
);

const SPEC_HELP: &str = "The spec file. When omitted: $STACKHOOK_SPEC, else the first of \
specs/<stack id>.yaml and .stackhook.yaml in the working directory, then in each parent up to the \
repository root (the first directory holding .git, or /mnt/workspace/source on Spacelift); the \
stack id is $TF_VAR_spacelift_stack_id, else $SPACELIFT_STACK_ID";

#[derive(Debug, Parser)]
#[command(
    name = "stackhook",
    version = VERSION,
    about = "Log kubectl in to a Kubernetes cluster from one reviewed spec, safely",
    long_about = "stackhook reads a committed YAML spec of provider steps (aws-eks, azure-aks, \
gke, kubeconfig, run, verify), checks it, renders each step to POSIX sh commands with every \
value quoted and every secret kept out of the text, and previews or runs them.",
    after_help = "Examples:\n  stackhook plan specs/gke-region.yaml\n  stackhook plan --format markdown specs/prod.yaml > plan.md\n  stackhook validate specs/\n  stackhook providers gke"
)]
pub struct Cli {
    /// When to use colour: auto (a terminal, unless NO_COLOR is set), always or never.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    pub color: Color,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Color {
    Auto,
    Always,
    Never,
}

impl Color {
    /// Whether to colour a stream: `auto` colours a terminal, unless
    /// NO_COLOR is set or the run is Spacelift's (its log is plain text).
    pub fn enabled(self, terminal: bool) -> bool {
        let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => terminal && !set("NO_COLOR") && !set("TF_VAR_spacelift_run_id"),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show exactly what a run would execute, without executing anything.
    #[command(
        long_about = "Render every step and print the commands a run would execute, byte for \
byte, with the temp files and exports of each step. Nothing runs and nothing is written. \
Secret values never appear: a secret is shown as the reference (\"$NAME\") that the command \
expands at run time. Variables that are not set are listed (exit 0), or fail the plan with \
--strict (exit 2).",
        after_help = "Examples:\n  stackhook plan specs/gke-region.yaml\n  stackhook plan --strict                      # the spec of this Spacelift stack\n  stackhook plan --format json specs/aws-eks.yaml | jq '.steps[].commands'"
    )]
    Plan(PlanArgs),

    /// Run the plan: the one line for a stack's before-init hook.
    #[command(
        long_about = "Check everything first (spec, variables, CLIs on PATH), then run each step's \
commands with POSIX sh, streaming their output with secret values masked. Temp files live in a \
private directory and are removed after their last command; if anything fails, times out or \
is interrupted, the kubeconfig is restored byte for byte and nothing is left behind.",
        after_help = "Examples:\n  stackhook run specs/gke-region.yaml\n  stackhook run                      # the spec of this Spacelift stack: the hook line\n  stackhook run --env-file /mnt/workspace/.stackhook.env && . /mnt/workspace/.stackhook.env\n  stackhook run --dry-run            # the same as `stackhook plan`\n\nExit codes: 0 success, 1 a step failed (rolled back), 2 invalid spec or failed preflight,\n128+N interrupted by signal N (130 SIGINT, 143 SIGTERM, 129 SIGHUP)."
    )]
    Run(RunArgs),

    /// Check specs without any environment: shape, providers, parameters, templates.
    #[command(
        long_about = "Check specs statically: YAML, keys, providers, parameters, interpolation \
syntax and templates. Needs no environment variables and runs nothing. Every error of every \
file is printed, then one summary line; exit 2 if there is any. A spec that `extends` a base is \
checked with its bases merged in, and a base among the files given is checked on its own too: \
a base is a spec.",
        after_help = "Examples:\n  stackhook validate                # every spec under specs/\n  stackhook validate specs/prod.yaml specs/staging/\n  stackhook validate --format json specs/ > problems.json"
    )]
    Validate(ValidateArgs),

    /// List the providers, or show one provider's parameters and example.
    #[command(
        after_help = "Examples:\n  stackhook providers\n  stackhook providers gke\n  stackhook providers rancher --templates specs/providers"
    )]
    Providers(ProvidersArgs),

    /// Write a commented starter spec for a provider.
    #[command(
        long_about = "Write a commented starter spec for PROVIDER: its parameters with their \
descriptions and defaults, and a verify step. Without PROVIDER, list the providers. An existing \
file is never overwritten without --force. The spec names its JSON Schema for editors: \
stackhook.schema.json beside it, which init writes there unless one is (--force replaces it), \
or what --schema says.",
        after_help = "Examples:\n  stackhook init                       # list providers\n  stackhook init gke -o specs/prod.yaml\n  stackhook init aws-eks -o -          # to stdout"
    )]
    Init(InitArgs),

    /// Diagnose this runner: credentials, token files, CLIs, the kubeconfig, and (--cluster) the clusters.
    #[command(
        long_about = "Say, per step and per kubeconfig context, what a run will meet here and what \
is wrong: which credentials each CLI will pick (and which it will not), the OIDC token files \
(readable, issuer, audience, expiry), each CLI the plan needs and whether its version has the \
flags the steps render, the kubeconfig (path, writable, who holds its lock, its contexts and \
whether each exec user's command is found). With --cluster, kubectl asks each context's server \
who you are and what you may do. Runs no login and changes nothing; no secret value is shown. \
Exit 0 healthy, 1 problems found, 2 invalid spec or usage error.",
        after_help = "Examples:\n  stackhook doctor                     # the spec of this Spacelift stack\n  stackhook doctor specs/prod.yaml --format json\n  stackhook doctor --cluster --can-i 'get pods' --can-i 'list namespaces'"
    )]
    Doctor(DoctorArgs),

    /// Print the JSON Schema (draft 2020-12) of the spec, or of the plan JSON, for editors and CI.
    #[command(
        long_about = "Print the JSON Schema of the spec, including each built-in provider's \
parameters. yaml-language-server (VS Code, Neovim, ...) uses it for completion and checks when a \
spec starts with `# yaml-language-server: $schema=PATH`. With --plan, print the JSON Schema of \
`plan --format json` instead, for policies that read a plan (its `version` field says which \
format a plan is in).",
        after_help = "Examples:\n  stackhook schema > schema/stackhook.schema.json\n  check-jsonschema --schemafile schema/stackhook.schema.json specs/*.yaml\n  stackhook schema --plan > schema/plan.schema.json"
    )]
    Schema(SchemaArgs),

    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  stackhook completions bash > /etc/bash_completion.d/stackhook\n  stackhook completions zsh > \"${fpath[1]}/_stackhook\"\n  stackhook completions fish > ~/.config/fish/completions/stackhook.fish"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },

    /// Print the man page (roff).
    #[command(after_help = "Example:\n  stackhook man > /usr/local/share/man/man1/stackhook.1")]
    Man,

    /// Check or install a kubeconfig (used by the kubeconfig and verify providers).
    #[command(
        subcommand,
        after_help = "Examples:\n  stackhook kubeconfig check\n  stackhook kubeconfig install --from-env KUBECONFIG_CONTENT"
    )]
    Kubeconfig(KubeconfigCommand),

    /// Print a token for kubectl as an ExecCredential (a kubeconfig exec plugin).
    #[command(
        long_about = "The client side of Kubernetes' exec credential protocol \
(client.authentication.k8s.io/v1): kubectl, Helm and Terraform's kubernetes and helm providers \
run this when they need a token, and it prints an ExecCredential holding the token that the \
named variable holds at that moment (with its expiry when the token is a JWT). Kubeconfigs \
written by `gke` with `credentials: exec` name it, so they hold no credential and keep working in \
later phases, where the platform sets a fresh token. The token goes to stdout only; an unset or \
empty variable is an error that names it.",
        after_help = "Example (what a kubeconfig's exec user runs):\n  stackhook exec-credential --from-env GOOGLE_OAUTH_ACCESS_TOKEN"
    )]
    ExecCredential {
        /// The variable holding the token.
        #[arg(long, value_name = "VAR")]
        from_env: String,
    },
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// The schema of the plan JSON (`plan --format json`), not of the spec.
    #[arg(long)]
    pub plan: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The provider of the first step; omit to list the providers.
    pub provider: Option<String>,

    /// Where to write the spec; `-` for stdout.
    #[arg(short, long, value_name = "FILE", default_value = ".stackhook.yaml")]
    pub output: PathBuf,

    /// Replace FILE if it exists.
    #[arg(long)]
    pub force: bool,

    /// The schema reference written for editors, relative to FILE or a URL
    /// (nothing else is written). Default: `stackhook.schema.json`, written
    /// beside FILE unless a file of that name is there.
    #[arg(long, value_name = "PATH|URL")]
    pub schema: Option<String>,
}

#[derive(Debug, Args)]
pub struct Common {
    #[arg(help = SPEC_HELP)]
    pub spec: Option<PathBuf>,

    /// Use this kubeconfig path instead of the spec's `kubeconfig:`, $KUBECONFIG or ~/.kube/config.
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,

    /// A directory of provider files that add to or override the built-in providers.
    #[arg(long = "templates", value_name = "DIR")]
    pub provider_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub common: Common,

    /// Output format: text for terminals, markdown for pull-request comments, json for tools.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Fail (exit 2) when a variable the spec needs is not set.
    #[arg(long)]
    pub strict: bool,
}

/// Whether arguments (without the program's name) are `run` and options
/// that cannot make it anything but a run of commands: no `--dry-run`, no
/// help, alone or among short flags (`-qh`). Anything else is left to the
/// parser; a guardian forked for a run the parser refuses only ends with
/// the worker's error.
pub fn plainly_a_run(mut args: impl Iterator<Item = std::ffi::OsString>) -> bool {
    args.next().is_some_and(|a| a == "run")
        && args.all(|a| {
            let a = a.as_encoded_bytes();
            let short_flags = a.starts_with(b"-") && !a.starts_with(b"--");
            !(a.starts_with(b"--dry-run")
                || a.starts_with(b"--help")
                || short_flags && a.contains(&b'h'))
        })
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: Common,

    /// Print the plan instead of running it (the same as `stackhook plan`).
    #[arg(long)]
    pub dry_run: bool,

    /// With --dry-run: the plan's output format.
    #[arg(long, value_enum, default_value_t = Format::Text, requires = "dry_run")]
    pub format: Format,

    /// After success, write `export NAME=...` lines for the variables the steps export
    /// (mode 0600; secrets as references such as "$ARM_CLIENT_SECRET", never values).
    #[arg(long, value_name = "PATH")]
    pub env_file: Option<PathBuf>,

    /// Echo each command before it runs (commands never hold secret values).
    #[arg(long, short, conflicts_with = "quiet")]
    pub verbose: bool,

    /// Print only failures.
    #[arg(long, short)]
    pub quiet: bool,

    /// How long to wait for another stackhook run using the same kubeconfig
    /// (runs on one kubeconfig take turns), e.g. 30s, 5m.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = humantime::parse_duration)]
    pub lock_timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub common: Common,

    /// Output format: text for people, json for tools (a stable shape, see docs/doctor.md).
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,

    /// Also ask each context's server, with kubectl: reachable, who you are, --can-i.
    #[arg(long)]
    pub cluster: bool,

    /// With --cluster: a `VERB RESOURCE` to check with `kubectl auth can-i` (repeatable).
    #[arg(long, value_name = "VERB RESOURCE", requires = "cluster", value_parser = can_i_request)]
    pub can_i: Vec<String>,

    /// How long each CLI may take to answer (a version, a kubectl query), e.g. 20s.
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,
}

/// A `--can-i` request: a verb and a resource (and perhaps a name or
/// `--namespace`-free words), never an option of kubectl's own.
fn can_i_request(s: &str) -> Result<String, String> {
    let words: Vec<&str> = s.split_whitespace().collect();
    if words.len() < 2 || words.iter().any(|w| w.starts_with('-')) {
        return Err("give a verb and a resource, e.g. --can-i \"get pods\" (no options)".into());
    }
    Ok(words.join(" "))
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ReportFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ValidateFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Spec files or directories (their *.yaml and *.yml files). Default: specs/
    pub paths: Vec<PathBuf>,

    /// Output: text (diagnostics and a summary line on stderr), or json (on stdout, an array of
    /// {file, line, column, code, message}, one per problem, for CI annotations).
    #[arg(long, value_enum, default_value_t = ValidateFormat::Text)]
    pub format: ValidateFormat,

    /// Print an `ok:` line for each valid spec too.
    #[arg(long, short)]
    pub verbose: bool,

    /// A directory of provider files that add to or override the built-in providers.
    #[arg(long = "templates", value_name = "DIR")]
    pub provider_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ProvidersArgs {
    /// Show this provider in full.
    pub name: Option<String>,

    /// A directory of provider files that add to or override the built-in providers.
    #[arg(long = "templates", value_name = "DIR")]
    pub provider_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum KubeconfigCommand {
    /// Check that the kubeconfig's current context names an existing context, cluster and user.
    Check {
        /// The kubeconfig; default: first entry of $KUBECONFIG, else ~/.kube/config.
        #[arg(long, value_name = "PATH")]
        kubeconfig: Option<PathBuf>,
    },
    /// Validate a kubeconfig (plain or base64) and write it atomically, mode 0600.
    #[command(
        after_help = "Examples:\n  stackhook kubeconfig install --from-env KUBECONFIG_CONTENT\n  stackhook kubeconfig install --from-file downloaded.yaml --sha256 9f86d0..."
    )]
    Install {
        /// Read the content from this environment variable (its value never reaches the command line).
        #[arg(
            long,
            value_name = "VAR",
            conflicts_with = "from_file",
            required_unless_present = "from_file"
        )]
        from_env: Option<String>,
        /// Read the content from this file.
        #[arg(long, value_name = "FILE")]
        from_file: Option<PathBuf>,
        /// Refuse the content unless its SHA-256 (hex) is this.
        #[arg(long, value_name = "HEX")]
        sha256: Option<String>,
        /// Make this context of the content current (the content may then lack a current-context).
        #[arg(long, value_name = "NAME")]
        context: Option<String>,
        /// Set this namespace on the resulting current context.
        #[arg(long, value_name = "NS")]
        namespace: Option<String>,
        /// Set the proxy-url of the resulting current context's cluster.
        #[arg(long, value_name = "URL")]
        proxy_url: Option<String>,
        /// Where to write; default: first entry of $KUBECONFIG, else ~/.kube/config.
        #[arg(long, value_name = "PATH")]
        kubeconfig: Option<PathBuf>,
    },
    /// Change how the current context's user gets its credential.
    #[command(
        after_help = "Examples:\n  stackhook kubeconfig set-user --exec-credential-from-env GOOGLE_OAUTH_ACCESS_TOKEN\n  stackhook kubeconfig set-user --token-from-env GOOGLE_OAUTH_ACCESS_TOKEN\n  stackhook kubeconfig set-user --exec-arg=--use-azurerm-env-vars\n  stackhook kubeconfig set-user --exec-env-from AWS_WEB_IDENTITY_TOKEN_FILE"
    )]
    SetUser {
        /// The user runs `stackhook exec-credential --from-env VAR` at each call (this binary, by absolute path).
        #[arg(long, value_name = "VAR", group = "auth")]
        exec_credential_from_env: Option<String>,
        /// The user holds the token VAR holds now, as a static bearer token (it expires with the token).
        #[arg(long, value_name = "VAR", group = "auth")]
        token_from_env: Option<String>,
        /// Add this argument to the user's exec plugin (repeatable).
        #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
        exec_arg: Vec<String>,
        /// Set NAME=VALUE in the exec plugin's environment (repeatable; the value is written in the file, so never a secret).
        #[arg(long, value_name = "NAME=VALUE")]
        exec_env: Vec<String>,
        /// Set NAME in the exec plugin's environment to the value it has in this environment (repeatable; for a path or a name that a step's environment holds, which then never reaches a command line; the value is written in the file, so never a credential).
        #[arg(long, value_name = "NAME")]
        exec_env_from: Vec<String>,
        /// The kubeconfig; default: first entry of $KUBECONFIG, else ~/.kube/config.
        #[arg(long, value_name = "PATH")]
        kubeconfig: Option<PathBuf>,
    },
    /// Select, rename or annotate the current context.
    #[command(
        after_help = "Examples:\n  stackhook kubeconfig set-context --rename prod --namespace apps\n  stackhook kubeconfig set-context --use staging"
    )]
    SetContext {
        /// Make this existing context current.
        #[arg(long = "use", value_name = "NAME", conflicts_with = "rename")]
        use_context: Option<String>,
        /// Rename the current context (replacing another context of that name).
        #[arg(long, value_name = "NAME")]
        rename: Option<String>,
        /// Set the current context's namespace.
        #[arg(long, value_name = "NS")]
        namespace: Option<String>,
        /// Set the proxy-url of the current context's cluster.
        #[arg(long, value_name = "URL")]
        proxy_url: Option<String>,
        /// The kubeconfig; default: first entry of $KUBECONFIG, else ~/.kube/config.
        #[arg(long, value_name = "PATH")]
        kubeconfig: Option<PathBuf>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plainly(args: &[&str]) -> bool {
        plainly_a_run(args.iter().map(std::ffi::OsString::from))
    }

    #[test]
    fn only_a_plain_run_is_known_before_parsing() {
        assert!(plainly(&["run"]));
        assert!(plainly(&[
            "run",
            "--quiet",
            "specs/gke.yaml",
            "--env-file",
            "x"
        ]));
        for args in [
            &["run", "--dry-run"][..],
            &["run", "--dry-run=true"],
            &["run", "-h"],
            &["run", "-qh"],
            &["run", "--help"],
            &["plan", "run"],
            &["--color", "never", "run"],
            &[],
        ] {
            assert!(!plainly(args), "{args:?}");
        }
    }

    /// `plainly_a_run` knows `--dry-run` and help by name: they must stay
    /// flags that only the command line sets.
    #[test]
    fn what_plainly_a_run_looks_for_is_what_the_parser_has() {
        use clap::CommandFactory;
        let cli = Cli::command();
        let run = cli.find_subcommand("run").unwrap();
        let dry_run = run
            .get_arguments()
            .find(|a| a.get_id() == "dry_run")
            .unwrap();
        assert_eq!(dry_run.get_long(), Some("dry-run"));
        assert_eq!(
            dry_run.get_env(),
            None,
            "an env var could make a run a dry run"
        );
        for arg in run.get_arguments() {
            if arg.get_id() != "help" {
                assert_ne!(arg.get_short(), Some('h'), "{:?}", arg.get_id());
            }
        }
    }
}
