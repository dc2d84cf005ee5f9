//! One function per subcommand, from parsed arguments to output.

use std::io::IsTerminal;
use std::path::Path;

use crate::base::bounded_file::{self, KUBECONFIG_CAP};
use crate::base::diagnostic::{Code, Diag};
use crate::base::failure::Failure;
use crate::base::kubeconfig_path::{self, Given};
use crate::base::output::{self, Stream};
use crate::base::paint::{Paint, visible, visible_path};
use crate::base::timeline;
use crate::cli::args::{
    Cli, Color, Command, Common, DoctorArgs, Format, InitArgs, KubeconfigCommand, PlanArgs,
    ProvidersArgs, ReportFormat, RunArgs,
};
use crate::cli::validate;
use crate::doctor::examine;
use crate::kube::exec_credential;
use crate::kube::kubeconfig;
use crate::kube::kubeconfig_edit::{self, ContextChange, Exec, UserAuth};
use crate::plan::assemble::{self, Mode, Plan};
use crate::plan::provider::Catalog;
use crate::plan::resolve::{self, ProcessEnv};
use crate::run::execute;
use crate::show::init;
use crate::show::preview;
use crate::show::provider_page;
use crate::show::schema;
use crate::spec::discover;
use crate::spec::document::Spec;
use crate::spec::extends;
use crate::spec::interpolate::is_var_name;

pub fn run(command: Command, color: Color) -> Result<(), Failure> {
    match command {
        Command::Plan(args) => plan(&args, color),
        Command::Run(args) => run_plan(&args, color),
        Command::Validate(args) => validate::validate(&args),
        Command::Providers(args) => providers(&args),
        Command::Kubeconfig(k) => kubeconfig(k),
        Command::ExecCredential { from_env } => exec_credential(&from_env),
        Command::Init(args) => init(&args),
        Command::Doctor(args) => doctor(&args, color),
        Command::Schema(args) => {
            let schema = match args.plan {
                true => schema::plan(),
                false => schema::schema(&Catalog::builtin()),
            };
            print(&(serde_json::to_string_pretty(&schema).expect("json") + "\n"))
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            // Into memory: clap_complete panics when its write fails.
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, "stackhook", &mut out);
            print(&String::from_utf8_lossy(&out))
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .expect("rendering to memory");
            print(&String::from_utf8_lossy(&out))
        }
    }
}

/// Output that is the command's result: missing or cut short (a full
/// disk, `stackhook plan | head`), it fails the command, so that nothing
/// takes part of a plan for the whole.
fn print(text: &str) -> Result<(), Failure> {
    output::print(Stream::Stdout, text)
}

/// What a command says it did, on stderr; failing as `print` does.
fn note(text: &str) -> Result<(), Failure> {
    output::print(Stream::Stderr, text)
}

/// Loads the spec and renders its plan against the process environment.
fn load_plan(common: &Common, process: &ProcessEnv) -> Result<(Spec, Plan), Failure> {
    // Left out of `process` (not UTF-8), it would be passed on to the
    // commands as it is: they would write another file than the run's.
    if let Some(k) = std::env::var_os("KUBECONFIG") {
        kubeconfig_path::utf8(Path::new(&k), "KUBECONFIG")?;
    }
    let path = match &common.spec {
        Some(p) => p.clone(),
        None => {
            let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
            discover::spec(|k| process.get(k).cloned(), &cwd, Path::exists)?
        }
    };
    let spec = extends::load(&path)?;
    let opts = assemble::Options {
        kubeconfig: common.kubeconfig.as_deref(),
        provider_dir: common.provider_dir.as_deref(),
        mode: Mode::Live,
    };
    let plan = assemble::build(&spec, process, &opts)?;
    Ok((spec, plan))
}

fn plan(args: &PlanArgs, color: Color) -> Result<(), Failure> {
    let process = resolve::process_env();
    let (spec, plan) = load_plan(&args.common, &process)?;
    show(&spec, &plan, args.format, args.strict, color)
}

fn run_plan(args: &RunArgs, color: Color) -> Result<(), Failure> {
    let process = resolve::process_env();
    let (spec, plan) = load_plan(&args.common, &process)?;
    timeline::mark("planned");
    if args.dry_run {
        return show(&spec, &plan, args.format, false, color);
    }
    let opts = execute::Options {
        github_groups: process.get("GITHUB_ACTIONS").is_some_and(|v| v == "true"),
        verbose: args.verbose,
        quiet: args.quiet,
        env_file: args.env_file.clone(),
        paint: Paint(color.enabled(std::io::stderr().is_terminal())),
        lock_wait: args.lock_timeout,
    };
    execute::run(&spec, &plan, &process, &opts)
}

/// `stackhook doctor`: the plan as a run would make it, examined without
/// running any of it. Problems found exit 1 with nothing more to say than
/// the report.
fn doctor(args: &DoctorArgs, color: Color) -> Result<(), Failure> {
    let process = resolve::process_env();
    let (spec, plan) = load_plan(&args.common, &process)?;
    let catalog = assemble::catalog(&spec, args.common.provider_dir.as_deref())?;
    let opts = examine::Options {
        timeout: args.timeout,
        cluster: args.cluster,
        can_i: &args.can_i,
    };
    let report = examine::examine(&plan, &catalog, &process, &opts);
    print(&match args.format {
        ReportFormat::Text => report.text(Paint(color.enabled(std::io::stdout().is_terminal()))),
        ReportFormat::Json => report.json(),
    })?;
    match report.healthy {
        true => Ok(()),
        false => Err(Failure::Failed(Vec::new())),
    }
}

fn show(
    spec: &Spec,
    plan: &Plan,
    format: Format,
    strict: bool,
    color: Color,
) -> Result<(), Failure> {
    let out = match format {
        Format::Text => preview::text(plan, Paint(color.enabled(std::io::stdout().is_terminal()))),
        Format::Json => preview::json(plan),
        Format::Markdown => preview::markdown(plan),
    };
    print(&out)?;
    if strict && !plan.missing_env.is_empty() {
        let diag = resolve::missing_diag(spec.source(), &plan.missing_env);
        return Err(Failure::Invalid(vec![diag]));
    }
    Ok(())
}

fn providers(args: &ProvidersArgs) -> Result<(), Failure> {
    let mut catalog = Catalog::builtin();
    if let Some(dir) = &args.provider_dir {
        catalog.add_dir(dir)?;
    }
    let Some(name) = &args.name else {
        let mut out = provider_page::list(&catalog, "");
        out.push_str("\nShow one in full: stackhook providers NAME\n");
        return print(&visible(&out));
    };
    let p = catalog.require(name)?;
    // A page of a provider file shows its text, escaped.
    print(&visible(&provider_page::page(
        p,
        args.provider_dir.as_deref(),
    )?))
}

fn init(args: &InitArgs) -> Result<(), Failure> {
    let catalog = Catalog::builtin();
    let Some(name) = &args.provider else {
        let mut out = String::from("Providers (stackhook init PROVIDER [-o FILE]):\n");
        out.push_str(&provider_page::list(&catalog, "  "));
        return print(&out);
    };
    let p = catalog.require(name)?;
    let schema_ref = args.schema.as_deref().unwrap_or(init::SCHEMA_FILE);
    let text = init::starter(p, schema_ref);
    if args.output.as_os_str() == "-" {
        return print(&text);
    }
    if args.output.exists() && !args.force {
        return Err(Diag::new(
            Code::InitExists,
            format!("{} already exists", args.output.display()),
        )
        .help("pass --force to replace it, or -o to write elsewhere")
        .into());
    }
    let write_error = |what: &Path, e: std::io::Error| {
        Diag::new(
            Code::InitWrite,
            format!("cannot write {}: {e}", what.display()),
        )
    };
    if let Some(dir) = args.output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| write_error(dir, e))?;
    }
    std::fs::write(&args.output, text).map_err(|e| write_error(&args.output, e))?;
    let output = visible_path(&args.output);
    note(&format!(
        "wrote {output}; preview it with: stackhook plan {output}\n"
    ))?;
    if args.schema.is_none() {
        let path = args.output.with_file_name(init::SCHEMA_FILE);
        let shown = visible_path(&path);
        if path.exists() && !args.force {
            return note(&format!(
                "kept {shown} (refresh it with: stackhook schema > {shown})\n"
            ));
        }
        let schema = schema::schema(&catalog);
        let text = serde_json::to_string_pretty(&schema).expect("json") + "\n";
        std::fs::write(&path, text).map_err(|e| write_error(&path, e))?;
        note(&format!("wrote {shown}, the schema it names for editors\n"))?;
    }
    Ok(())
}

/// Where a `stackhook kubeconfig` subcommand works: `--kubeconfig`, else
/// the first entry of $KUBECONFIG (set by the runner), else ~/.kube/config.
fn locate(flag: Option<&Path>) -> Result<std::path::PathBuf, Failure> {
    let given = flag.map_or(Given::Env, Given::Flag);
    let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
    kubeconfig_path::locate(given, |k| std::env::var_os(k), &cwd).map_err(Failure::failed)
}

/// What a `kubeconfig` subcommand did and checked. Nothing read from the
/// file is printed (no context, cluster or user name, no server): the
/// content may come from a secret, and the masker hides whole secret
/// lines, not the fragments a message would quote.
fn report(what: &str, path: &Path) -> Result<(), Failure> {
    note(&format!(
        "kubeconfig {} {what}: its current context names a context, a cluster with a server, and a user, all in the file\n",
        visible_path(path),
    ))
}

/// The `stackhook kubeconfig` subcommands run inside steps: a failure is a
/// failed command (exit 1).
fn kubeconfig(command: KubeconfigCommand) -> Result<(), Failure> {
    let fail = |msg: String| Failure::failed(Diag::new(Code::Kubeconfig, msg));
    match command {
        KubeconfigCommand::Check { kubeconfig } => {
            let path = locate(kubeconfig.as_deref())?;
            kubeconfig::check(&path).map_err(Failure::failed)?;
            report("checked", &path)
        }
        KubeconfigCommand::Install {
            from_env,
            from_file,
            sha256,
            context,
            namespace,
            proxy_url,
            kubeconfig,
        } => {
            let path = locate(kubeconfig.as_deref())?;
            let raw = match (from_env, from_file) {
                (Some(var), _) => std::env::var_os(&var)
                    .filter(|v| !v.is_empty())
                    .map(|v| v.into_encoded_bytes())
                    .ok_or_else(|| {
                        fail(format!("environment variable {var} is not set or empty"))
                    })?,
                (None, Some(file)) => bounded_file::read(&file, KUBECONFIG_CAP)
                    .map_err(|e| fail(format!("cannot read {}: {e}", file.display())))?,
                (None, None) => unreachable!("clap requires one source"),
            };
            let change = ContextChange {
                use_context: context,
                namespace,
                proxy_url,
                ..Default::default()
            };
            kubeconfig_edit::install(&raw, sha256.as_deref(), &path, &change)
                .map_err(Failure::failed)?;
            report("installed", &path)
        }
        KubeconfigCommand::SetUser {
            exec_credential_from_env,
            token_from_env,
            exec_arg,
            exec_env,
            exec_env_from,
            kubeconfig,
        } => {
            let path = locate(kubeconfig.as_deref())?;
            let auth = user_auth(exec_credential_from_env, token_from_env)?;
            let env = exec_env_of(&exec_env, &exec_env_from)?;
            kubeconfig_edit::edit(&path, |doc| {
                if let Some(auth) = &auth {
                    doc.set_user(auth)?;
                }
                if !exec_arg.is_empty() || !env.is_empty() {
                    doc.extend_exec(&exec_arg, &env)?;
                }
                Ok(())
            })
            .map_err(Failure::failed)?;
            report("user set", &path)
        }
        KubeconfigCommand::SetContext {
            use_context,
            rename,
            namespace,
            proxy_url,
            kubeconfig,
        } => {
            let path = locate(kubeconfig.as_deref())?;
            let change = ContextChange {
                use_context,
                rename,
                namespace,
                proxy_url,
            };
            kubeconfig_edit::edit(&path, |doc| doc.change_context(&change))
                .map_err(Failure::failed)?;
            report("context set", &path)
        }
    }
}

/// The exec plugin's variables of `set-user`: `--exec-env NAME=VALUE`, and
/// `--exec-env-from NAME` with the value NAME has here (set by the step's
/// environment, so that it never passes through a command line).
fn exec_env_of(pairs: &[String], from: &[String]) -> Result<Vec<(String, String)>, Failure> {
    let fail = |msg: String| Failure::failed(Diag::new(Code::Kubeconfig, msg));
    let mut env = pairs
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if is_var_name(k) => Ok((k.to_string(), v.to_string())),
            _ => Err(fail(format!("--exec-env wants NAME=VALUE, not `{kv}`"))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    for name in from {
        let value = std::env::var(name)
            .ok()
            .filter(|v| is_var_name(name) && !v.is_empty())
            .ok_or_else(|| {
                fail(format!(
                    "--exec-env-from={name}: {name} is not set or empty in this environment"
                ))
            })?;
        env.push((name.clone(), value));
    }
    Ok(env)
}

/// The user `set-user` writes: an exec user that runs this binary by its
/// absolute path (so that it works whatever PATH a later phase has, and in
/// a new container of the same image, where the binary is at the same
/// place), or a static token read from the environment, never from argv.
fn user_auth(
    exec_from: Option<String>,
    token_from: Option<String>,
) -> Result<Option<UserAuth>, Failure> {
    let fail = |msg: String| Failure::failed(Diag::new(Code::Kubeconfig, msg));
    if let Some(var) = token_from {
        let token = std::env::var(&var)
            .ok()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| fail(format!("environment variable {var} is not set or empty")))?;
        return Ok(Some(UserAuth::Token(token)));
    }
    let Some(var) = exec_from else {
        return Ok(None);
    };
    let exe = std::env::current_exe()
        .map_err(|e| fail(format!("cannot tell where this stackhook binary is: {e}")))?;
    Ok(Some(UserAuth::Exec(Exec {
        command: exe.display().to_string(),
        args: vec!["exec-credential".into(), format!("--from-env={var}")],
        env: Vec::new(),
        install_hint: format!(
            "This kubeconfig gets its token from {var} by running stackhook at {}: run kubectl \
             where that binary is (the same runner image, or the workspace it was installed into), \
             or run `stackhook run` again.",
            exe.display()
        ),
    })))
}

/// `stackhook exec-credential`: the ExecCredential on stdout, or the
/// reason on stderr (exit 1). Never the token on stderr.
fn exec_credential(var: &str) -> Result<(), Failure> {
    let value = std::env::var(var).ok();
    let info = std::env::var("KUBERNETES_EXEC_INFO").ok();
    match exec_credential::answer(var, value.as_deref(), info.as_deref()) {
        Ok(json) => print(&(json + "\n")),
        Err(refusal) => Err(Failure::failed(Diag::new(Code::ExecCredential, refusal.0))),
    }
}
