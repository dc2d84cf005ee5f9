//! `stackhook validate`: every spec given, checked with no environment,
//! on every core; diagnostics and a summary line, or JSON for CI
//! annotations.

use std::path::{Path, PathBuf};

use crate::base::diagnostic::Diag;
use crate::base::failure::Failure;
use crate::base::output::{self, Stream};
use crate::base::paint::visible_line;
use crate::cli::args::{ValidateArgs, ValidateFormat};
use crate::plan::assemble::{self, Mode};
use crate::plan::resolve::ProcessEnv;
use crate::spec::discover;
use crate::spec::extends;

/// Checks a spec without any environment: every variable counts as unset,
/// which is not an error here.
fn validate_one(path: &Path, provider_dir: Option<&Path>) -> Result<(), Vec<Diag>> {
    let spec = extends::load(path)?;
    let opts = assemble::Options {
        kubeconfig: None,
        provider_dir,
        mode: Mode::Static,
    };
    assemble::build(&spec, &ProcessEnv::new(), &opts).map(|_| ())
}

pub fn validate(args: &ValidateArgs) -> Result<(), Failure> {
    let files = discover::spec_files(&args.paths)?;
    let results = validate_all(&files, args.provider_dir.as_deref());
    let mut diags: Vec<(&Path, Diag)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut ok_lines = String::new();
    let mut failed = 0;
    for (file, result) in files.iter().zip(results) {
        match result {
            Ok(()) => {
                if args.verbose {
                    ok_lines.push_str(&format!(
                        "ok: {}\n",
                        visible_line(&file.display().to_string())
                    ));
                }
            }
            Err(d) => {
                failed += 1;
                // A base's problem is reported once, not once per spec
                // that extends it.
                let key = |d: &Diag| {
                    let at = d.location().map(|(f, l, c)| (f.to_string(), l, c));
                    (d.code, d.message.clone(), at)
                };
                diags.extend(
                    d.into_iter()
                        .filter(|d| seen.insert(key(d)))
                        .map(|d| (file.as_path(), d)),
                );
            }
        }
    }
    let summary = match failed {
        0 => format!("validated {} specs: all ok", files.len()),
        n => format!(
            "validated {} specs: {} ok, {n} with errors",
            files.len(),
            files.len() - n
        ),
    };
    let written = match args.format {
        ValidateFormat::Json => {
            let problems: Vec<serde_json::Value> =
                diags.iter().map(|(f, d)| problem_json(f, d)).collect();
            let json = serde_json::to_string_pretty(&problems).expect("json") + "\n";
            output::print(Stream::Stdout, &json)
        }
        ValidateFormat::Text => {
            let mut text = ok_lines;
            for (_, diag) in diags {
                text.push_str(&format!("{:?}\n", miette::Report::new(diag)));
            }
            output::print(Stream::Stderr, &text)
        }
    }
    .and(output::print(Stream::Stderr, &format!("{summary}\n")));
    // An invalid spec is the answer (exit 2) even when it cannot be said;
    // otherwise output that could not be written is a failure (exit 1).
    if failed == 0 {
        written
    } else {
        Err(Failure::Invalid(Vec::new()))
    }
}

/// One problem for a CI annotation: where it is (a problem that points
/// nowhere, such as an unreadable file, is on the file's first line).
fn problem_json(file: &Path, d: &Diag) -> serde_json::Value {
    let name = visible_line(&file.display().to_string()).into_owned();
    let (file, line, column) = d.location().unwrap_or((&name, 1, 1));
    serde_json::json!({
        "file": file,
        "line": line,
        "column": column,
        "code": d.code.as_str(),
        "message": d.message,
    })
}

/// Validates the files on every core: each file stands alone, and
/// thousands of small ones are many short jobs.
fn validate_all(files: &[PathBuf], provider_dir: Option<&Path>) -> Vec<Result<(), Vec<Diag>>> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len() / 64 + 1);
    if workers <= 1 {
        return files
            .iter()
            .map(|f| validate_one(f, provider_dir))
            .collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<Result<(), Vec<Diag>>>> = Vec::new();
    results.resize_with(files.len(), || None);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(f) = files.get(i) else { break done };
                        done.push((i, validate_one(f, provider_dir)));
                    }
                })
            })
            .collect();
        for h in handles {
            for (i, r) in h.join().expect("a validating thread panicked") {
                results[i] = Some(r);
            }
        }
    });
    results
        .into_iter()
        .map(|r| r.expect("every file validated"))
        .collect()
}
