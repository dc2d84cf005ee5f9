//! One function per subcommand, from parsed arguments to output.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::cli::{
    Color, Command, Format, KubeconfigCommand, PlanArgs, ProvidersArgs, RunArgs, ValidateArgs,
};
use crate::diagnostic::Diag;
use crate::plan::{self, Plan};
use crate::preview::{self, Paint};
use crate::provider::{Catalog, ParamKind};
use crate::resolve::{self, Vars};
use crate::spec::{self, Spec};

/// How a command failed, which decides the exit code.
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

pub fn run(command: Command, color: Color) -> Result<(), Failure> {
    match command {
        Command::Plan(args) => plan(&args, color),
        Command::Run(args) => run_plan(&args, color),
        Command::Validate(args) => validate(&args),
        Command::Providers(args) => providers(&args),
        Command::Kubeconfig(k) => kubeconfig(k),
        Command::Init(args) => init(&args),
        Command::Schema => {
            let schema = crate::schema::schema(&Catalog::builtin());
            print(&(serde_json::to_string_pretty(&schema).expect("json") + "\n"));
            Ok(())
        }
        Command::Completions { shell } => {
            let mut cmd = <crate::cli::Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "stackhook", &mut std::io::stdout());
            Ok(())
        }
        Command::Man => {
            let cmd = <crate::cli::Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .expect("rendering to memory");
            print(&String::from_utf8_lossy(&out));
            Ok(())
        }
    }
}

pub fn paint(color: Color) -> Paint {
    Paint(color.enabled(std::io::stdout().is_terminal()))
}

fn spec_path(given: Option<&Path>) -> Result<PathBuf, Diag> {
    match given {
        Some(p) => Ok(p.to_path_buf()),
        None => spec::discover(|k| std::env::var(k).ok(), Path::exists),
    }
}

/// Loads the spec and renders its plan against the process environment.
pub fn load_plan(common: &crate::cli::Common) -> Result<(Spec, Plan), Failure> {
    let path = spec_path(common.spec.as_deref())?;
    let spec = spec::load(&path)?;
    let mut vars = Vars::from_process();
    let opts = plan::Options {
        kubeconfig: common.kubeconfig.as_deref(),
        templates: common.templates.as_deref(),
    };
    let plan = plan::build(&spec, &mut vars, &opts)?;
    Ok((spec, plan))
}

fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`stackhook plan | head`) is not an error worth a panic.
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn plan(args: &PlanArgs, color: Color) -> Result<(), Failure> {
    let (spec, plan) = load_plan(&args.common)?;
    show(&spec, &plan, args.format, args.strict, color)
}

fn run_plan(args: &RunArgs, color: Color) -> Result<(), Failure> {
    let (spec, plan) = load_plan(&args.common)?;
    if args.dry_run {
        return show(&spec, &plan, args.format, false, color);
    }
    let opts = crate::execute::Options {
        github_groups: std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true"),
        verbose: args.verbose,
        quiet: args.quiet,
        env_file: args.env_file.clone(),
        paint: Paint(color.enabled(std::io::stderr().is_terminal())),
    };
    crate::execute::run(&spec, &plan, &opts)
}

fn show(
    spec: &Spec,
    plan: &Plan,
    format: Format,
    strict: bool,
    color: Color,
) -> Result<(), Failure> {
    let out = match format {
        Format::Text => preview::text(plan, paint(color)),
        Format::Json => preview::json(plan),
        Format::Markdown => preview::markdown(plan),
    };
    print(&out);
    if strict && !plan.missing_env.is_empty() {
        return Err(Failure::Invalid(vec![resolve::missing_diag(
            spec.source(),
            &plan.missing_env,
        )]));
    }
    Ok(())
}

/// Spec files under the given paths (directories: their YAML files, sorted).
fn spec_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Vec<Diag>> {
    let defaults = [PathBuf::from("specs")];
    let paths = if paths.is_empty() {
        &defaults[..]
    } else {
        paths
    };
    let mut files = Vec::new();
    let mut diags = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
                .unwrap_or_default();
            found.retain(|f| {
                f.is_file() && f.extension().is_some_and(|x| x == "yaml" || x == "yml")
            });
            found.sort();
            if found.is_empty() {
                diags.push(Diag::new(
                    "stackhook::validate::empty",
                    format!("{} holds no .yaml spec", p.display()),
                ));
            }
            files.extend(found);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            diags.push(
                Diag::new(
                    "stackhook::validate::not_found",
                    format!("{} does not exist", p.display()),
                )
                .help("pass spec files or directories; the default is specs/"),
            );
        }
    }
    if diags.is_empty() {
        Ok(files)
    } else {
        Err(diags)
    }
}

/// Validates without the environment: every variable counts as unset, which
/// is not an error here.
pub fn validate_one(path: &Path, templates: Option<&Path>) -> Result<(), Vec<Diag>> {
    static_plan(&spec::load(path)?, templates).map(|_| ())
}

/// A plan made without any environment: every variable counts as unset
/// (a reference, not an error) and the kubeconfig is `$KUBECONFIG`.
fn static_plan(spec: &Spec, templates: Option<&Path>) -> Result<Plan, Vec<Diag>> {
    let opts = plan::Options {
        kubeconfig: Some(Path::new("$KUBECONFIG")),
        templates,
    };
    plan::build(spec, &mut Vars::new(Default::default()), &opts)
}

fn validate(args: &ValidateArgs) -> Result<(), Failure> {
    let files = spec_files(&args.paths)?;
    let mut diags = Vec::new();
    for f in &files {
        match validate_one(f, args.templates.as_deref()) {
            Ok(()) => eprintln!("ok: {}", f.display()),
            Err(d) => diags.extend(d),
        }
    }
    if diags.is_empty() {
        Ok(())
    } else {
        Err(Failure::Invalid(diags))
    }
}

fn providers(args: &ProvidersArgs) -> Result<(), Failure> {
    let mut catalog = Catalog::builtin();
    if let Some(dir) = &args.templates {
        catalog.add_dir(dir)?;
    }
    let Some(name) = &args.name else {
        let mut out = provider_list(&catalog, "");
        out.push_str("\nShow one in full: stackhook providers NAME\n");
        print(&out);
        return Ok(());
    };
    let p = catalog.require(name)?;
    print(&provider_page(p, args.templates.as_deref())?);
    Ok(())
}

/// One line per provider: name, summary, and where it comes from unless
/// it is built in.
fn provider_list(catalog: &Catalog, indent: &str) -> String {
    let width = catalog.names().map(str::len).max().unwrap_or(0);
    let mut out = String::new();
    for p in catalog.providers.values() {
        let origin = if p.origin == "built-in" {
            String::new()
        } else {
            format!(" ({})", p.origin)
        };
        out.push_str(&format!(
            "{indent}{:width$}  {}{origin}\n",
            p.name, p.def.summary
        ));
    }
    out
}

fn provider_page(
    p: &crate::provider::Provider,
    templates: Option<&Path>,
) -> Result<String, Failure> {
    use std::fmt::Write;
    let def = &p.def;
    let mut out = String::new();
    let _ = writeln!(out, "{} - {}", p.name, def.summary);
    if p.origin != "built-in" {
        let _ = writeln!(out, "from {}", p.origin);
    }
    if !def.description.is_empty() {
        let _ = writeln!(out, "\n{}", def.description.trim_end());
    }
    let _ = writeln!(out, "\nParameters (under `with:`):");
    if def.params.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for (name, param) in &def.params {
        let mut facts = vec![param.kind.describe().to_string()];
        if param.required {
            facts.push("required".into());
        }
        if let Some(d) = &param.default {
            let d = match d {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            match &param.default_when {
                Some(w) => facts.push(format!("default {d} when {w}")),
                None => facts.push(format!("default {d}")),
            }
        }
        if !param.values.is_empty() {
            facts.push(format!("one of: {}", param.values.join(", ")));
        }
        if let Some(w) = &param.when {
            facts.push(format!("only when {w}"));
        }
        if param.secret || param.kind == ParamKind::Var {
            facts.push("secret".into());
        }
        let _ = writeln!(out, "  {name} ({})", facts.join("; "));
        if !param.description.is_empty() {
            let _ = writeln!(out, "      {}", param.description.trim_end());
        }
    }
    for group in &def.exactly_one_of {
        let _ = writeln!(out, "  Exactly one of: {}", group.join(", "));
    }
    if !def.reads.is_empty() {
        let _ = writeln!(
            out,
            "\nReads from the environment: {}",
            def.reads.join(", ")
        );
    }
    if !def.requires.is_empty() {
        let needs: Vec<String> = def.requires.iter().map(|r| describe_template(r)).collect();
        let _ = writeln!(out, "\nNeeds on PATH: {}", needs.join(", "));
    }
    if let Some(h) = &def.hint {
        let _ = writeln!(out, "  {}", h.trim_end());
    }
    if !def.exports.is_empty() {
        let _ = writeln!(
            out,
            "\nExports to later steps and the caller: {}",
            def.exports.keys().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    if !def.example.is_empty() {
        let with = serde_json::to_string(&def.example).expect("json");
        let text = format!(
            "version: 1\nsteps:\n  - provider: {}\n    with: {with}\n",
            p.name
        );
        let _ = writeln!(
            out,
            "\nExample:\n  steps:\n    - provider: {}\n      with:",
            p.name
        );
        for (k, v) in &def.example {
            let _ = writeln!(out, "        {k}: {}", crate::init::yaml_value(v));
        }
        let spec = spec::parse(Path::new("example.yaml"), &text)?;
        let plan = static_plan(&spec, templates)?;
        let _ = writeln!(out, "\nRenders to:");
        for step in &plan.steps {
            for c in &step.commands {
                let mut lines = c.lines();
                let _ = writeln!(out, "  $ {}", lines.next().unwrap_or_default());
                for l in lines {
                    let _ = writeln!(out, "    {l}");
                }
            }
        }
    }
    Ok(out)
}

fn init(args: &crate::cli::InitArgs) -> Result<(), Failure> {
    let catalog = Catalog::builtin();
    let Some(name) = &args.provider else {
        let mut out = String::from("Providers (stackhook init PROVIDER [-o FILE]):\n");
        out.push_str(&provider_list(&catalog, "  "));
        print(&out);
        return Ok(());
    };
    let p = catalog.require(name)?;
    let text = crate::init::starter(p, &args.schema);
    if args.output.as_os_str() == "-" {
        print(&text);
        return Ok(());
    }
    if args.output.exists() && !args.force {
        return Err(Diag::new(
            "stackhook::init::exists",
            format!("{} already exists", args.output.display()),
        )
        .help("pass --force to replace it, or -o to write elsewhere")
        .into());
    }
    if let Some(dir) = args.output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            Diag::new(
                "stackhook::init::write",
                format!("cannot create {}: {e}", dir.display()),
            )
        })?;
    }
    std::fs::write(&args.output, text).map_err(|e| {
        Diag::new(
            "stackhook::init::write",
            format!("cannot write {}: {e}", args.output.display()),
        )
    })?;
    eprintln!(
        "wrote {}; preview it with: stackhook plan {}",
        args.output.display(),
        args.output.display()
    );
    Ok(())
}

/// `{% if cond %}name{% endif %}` as `name (when cond)`, for docs.
fn describe_template(t: &str) -> String {
    if !t.contains("{%") && !t.contains("{{") {
        return t.to_string();
    }
    let mut text = String::new();
    let mut conditions = Vec::new();
    let mut rest = t;
    while let Some(i) = rest.find("{%") {
        text.push_str(&rest[..i]);
        let Some(j) = rest[i..].find("%}") else { break };
        let tag = rest[i + 2..i + j].trim().trim_matches('-').trim();
        if let Some(cond) = tag.strip_prefix("if ") {
            conditions.push(cond.trim().to_string());
        }
        rest = &rest[i + j + 2..];
    }
    text.push_str(rest);
    if let Some((_, expr)) = text.split_once("{{") {
        let name = expr.split("}}").next().unwrap_or("").trim();
        return format!("the CLIs named in `{name}`");
    }
    match conditions.as_slice() {
        [] => text.trim().to_string(),
        c => format!("{} (when {})", text.trim(), c.join(" and ")),
    }
}

fn kubeconfig(command: KubeconfigCommand) -> Result<(), Failure> {
    let fail = |msg: String| Failure::Failed(vec![Diag::new("stackhook::kubeconfig", msg)]);
    match command {
        KubeconfigCommand::Check { kubeconfig } => {
            let path = crate::kubeconfig::target(kubeconfig.as_deref()).map_err(fail)?;
            let current = crate::kubeconfig::check(&path).map_err(fail)?;
            eprintln!(
                "kubeconfig {}: context {} -> cluster {} ({}) as user {}",
                path.display(),
                current.context,
                current.cluster,
                current.server,
                current.user
            );
            Ok(())
        }
        KubeconfigCommand::Install {
            from_env,
            from_file,
            sha256,
            kubeconfig,
        } => {
            let path = crate::kubeconfig::target(kubeconfig.as_deref()).map_err(fail)?;
            let raw = match (from_env, from_file) {
                (Some(var), _) => std::env::var_os(&var)
                    .filter(|v| !v.is_empty())
                    .map(|v| v.into_encoded_bytes())
                    .ok_or_else(|| {
                        fail(format!("environment variable {var} is not set or empty"))
                    })?,
                (None, Some(file)) => std::fs::read(&file)
                    .map_err(|e| fail(format!("cannot read {}: {e}", file.display())))?,
                (None, None) => unreachable!("clap requires one source"),
            };
            let current =
                crate::kubeconfig::install(&raw, sha256.as_deref(), &path).map_err(fail)?;
            eprintln!(
                "kubeconfig {} installed: context {} -> {}",
                path.display(),
                current.context,
                current.server
            );
            Ok(())
        }
    }
}
