//! Showing a plan: text for terminals, markdown for pull requests, JSON
//! for tools. Never executes anything.

use std::fmt::Write;

use crate::base::paint::{Layout, Paint, escaped, visible, visible_line};
use crate::plan::assemble::{Plan, PlanStep};
use crate::plan::render::TempFile;

pub fn json(plan: &Plan) -> String {
    let json = serde_json::to_string_pretty(plan).expect("a plan serialises");
    escaped(&json, Layout::Json).into_owned() + "\n"
}

fn tools_line(plan: &Plan, step: &PlanStep, paint: Paint) -> String {
    step.requires
        .iter()
        .map(|r| {
            let found = plan.tools.iter().any(|t| t.name == *r && t.found);
            let r = visible_line(r);
            if found {
                format!("{r} {}", paint.green("(found)"))
            } else {
                format!("{r} {}", paint.red("(not on PATH)"))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The file a step comes from, and the keys another file set.
fn from_line(step: &PlanStep) -> String {
    let mut by_file: Vec<(&str, Vec<&str>)> = Vec::new();
    for (key, file) in &step.overrides {
        match by_file.iter_mut().find(|(f, _)| f == file) {
            Some((_, keys)) => keys.push(key),
            None => by_file.push((file, vec![key])),
        }
    }
    let mut line = visible_line(&step.source).into_owned();
    for (file, keys) in by_file {
        let _ = write!(line, "; {} from {}", keys.join(", "), visible_line(file));
    }
    line
}

fn tempfile_line(t: &TempFile) -> String {
    let content = match &t.content {
        Some(c) => format!(" <- {c}"),
        None => " (written by a command)".into(),
    };
    let removed = match t.remove_after {
        Some(i) => format!("removed after command {i}"),
        None => "removed when the step ends".into(),
    };
    format!("{}{content}; 0600, {removed}", t.path)
}

pub fn text(plan: &Plan, paint: Paint) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}",
        paint.bold("Plan for"),
        visible_line(&plan.spec)
    );
    if let Some((_, bases)) = plan.extends.split_first() {
        let _ = writeln!(out, "extends: {}", visible_line(&bases.join(" -> ")));
    }
    let _ = writeln!(out, "kubeconfig: {}", visible_line(&plan.kubeconfig));
    if !plan.env.is_empty() {
        let _ = writeln!(out, "env (every step):");
        for (k, v) in &plan.env {
            let _ = writeln!(out, "  {k}={}", visible_line(&v.display()));
        }
    }
    for (i, step) in plan.steps.iter().enumerate() {
        step_text(&mut out, plan, i, step, paint);
    }
    problems_text(&mut out, plan, paint);
    out
}

fn step_text(out: &mut String, plan: &Plan, i: usize, step: &PlanStep, paint: Paint) {
    let _ = writeln!(out);
    let timeout = humantime::format_duration(step.timeout);
    let mut extra = format!(
        "provider {}, timeout {timeout}",
        visible_line(&step.provider)
    );
    if step.retries > 0 {
        let _ = write!(extra, ", {} retries", step.retries);
    }
    let n = plan.steps.len();
    let _ = writeln!(
        out,
        "{} {}",
        paint.bold(&format!("[{}/{n}] {}", i + 1, visible_line(&step.name))),
        paint.dim(&format!("({extra})"))
    );
    if !plan.extends.is_empty() {
        let _ = writeln!(out, "  from: {}", from_line(step));
    }
    for note in &step.notes {
        let _ = writeln!(out, "  note: {}", visible(note));
    }
    if !step.requires.is_empty() {
        let _ = writeln!(out, "  needs: {}", tools_line(plan, step, paint));
    }
    for (k, v) in &step.env {
        let _ = writeln!(out, "  env: {k}={}", visible_line(&v.display()));
    }
    for t in &step.tempfiles {
        let _ = writeln!(out, "  tempfile: {}", visible_line(&tempfile_line(t)));
    }
    for command in &step.commands {
        let command = visible(command);
        let mut lines = command.lines();
        let first = lines.next().unwrap_or_default();
        let _ = writeln!(out, "  {} {first}", paint.dim("$"));
        for line in lines {
            let _ = writeln!(out, "    {line}");
        }
    }
    for (k, v) in &step.exports {
        let _ = writeln!(out, "  export: {k}={}", visible_line(&v.to_string()));
    }
}

/// Warnings, missing CLIs and missing variables, after the steps.
fn problems_text(out: &mut String, plan: &Plan, paint: Paint) {
    if !plan.warnings.is_empty() {
        let _ = writeln!(out, "\n{}", paint.yellow("warnings:"));
        for w in &plan.warnings {
            let _ = writeln!(out, "  - {}", visible_line(w));
        }
    }
    if !plan.expired_tokens.is_empty() {
        let title = "expired tokens (a run would stop before its first command):";
        let _ = writeln!(out, "\n{}", paint.red(title));
        for t in &plan.expired_tokens {
            let _ = writeln!(out, "  - {}", visible_line(t));
        }
    }
    let missing_tools: Vec<_> = plan.tools.iter().filter(|t| !t.found).collect();
    if !missing_tools.is_empty() {
        let title = "not on PATH (a run would stop before its first command):";
        let _ = writeln!(out, "\n{}", paint.red(title));
        for t in missing_tools {
            let name = visible_line(&t.name);
            match &t.hint {
                Some(h) => writeln!(out, "  - {name}: {}", visible_line(h)),
                None => writeln!(out, "  - {name}"),
            }
            .expect("writing to a string");
        }
    }
    if !plan.missing_env.is_empty() {
        let title = format!(
            "missing variables ({}), shown above as references; a run would stop before its first command:",
            plan.missing_env.len()
        );
        let _ = writeln!(out, "\n{}", paint.red(&title));
        for m in &plan.missing_env {
            let (location, key) = (visible_line(&m.location), m.key.to_string());
            let _ = writeln!(out, "  - {} at {location} ({})", m.name, visible_line(&key));
        }
    }
}

/// GitHub-flavoured markdown for a pull-request comment.
pub fn markdown(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### stackhook plan: {}\n", md_code(&plan.spec));
    let _ = writeln!(out, "kubeconfig: {}\n", md_code(&plan.kubeconfig));
    let _ = writeln!(out, "| # | step | provider | needs | timeout | retries |");
    let _ = writeln!(out, "|---|------|----------|-------|---------|---------|");
    for (i, s) in plan.steps.iter().enumerate() {
        let needs = s
            .requires
            .iter()
            .map(|r| {
                let found = plan.tools.iter().any(|t| t.name == *r && t.found);
                let code = md_cell_code(r);
                format!("{code}{}", if found { "" } else { " (not on PATH)" })
            })
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            i + 1,
            md_cell_code(&s.name),
            md_cell_code(&s.provider),
            needs,
            humantime::format_duration(s.timeout),
            s.retries
        );
    }
    if !plan.env.is_empty() {
        let _ = writeln!(out, "\n**Environment (every step)**\n");
        for (k, v) in &plan.env {
            let _ = writeln!(out, "- `{k}` = {}", md_code(&v.display()));
        }
    }
    for (i, s) in plan.steps.iter().enumerate() {
        step_markdown(&mut out, i, s);
    }
    problems_markdown(&mut out, plan);
    out
}

fn step_markdown(out: &mut String, i: usize, s: &PlanStep) {
    let _ = writeln!(out, "\n#### {}. {}\n", i + 1, md_code(&s.name));
    for note in &s.notes {
        let _ = writeln!(out, "- note: {}", md_text(note));
    }
    for t in &s.tempfiles {
        let _ = writeln!(out, "- temp file {}", md_code(&tempfile_line(t)));
    }
    for (k, v) in &s.env {
        let _ = writeln!(out, "- env `{k}` = {}", md_code(&v.display()));
    }
    for (k, v) in &s.exports {
        let _ = writeln!(out, "- exports `{k}` = {}", md_code(&v.to_string()));
    }
    if !s.notes.is_empty() || !s.tempfiles.is_empty() || !s.env.is_empty() || !s.exports.is_empty()
    {
        let _ = writeln!(out);
    }
    let fence = fence_for(&s.commands);
    let _ = writeln!(out, "{fence}sh");
    for c in &s.commands {
        let _ = writeln!(out, "{}", visible(c));
    }
    let _ = writeln!(out, "{fence}");
}

fn problems_markdown(out: &mut String, plan: &Plan) {
    if !plan.warnings.is_empty() {
        let _ = writeln!(out, "\n> [!WARNING]");
        for w in &plan.warnings {
            let _ = writeln!(out, "> - {}", md_text(w));
        }
    }
    if !plan.expired_tokens.is_empty() {
        let _ = writeln!(
            out,
            "\n> [!CAUTION]\n> Expired tokens (a run would stop before its first command):"
        );
        for t in &plan.expired_tokens {
            let _ = writeln!(out, "> - {}", md_text(t));
        }
    }
    let missing_tools: Vec<String> = plan
        .tools
        .iter()
        .filter(|t| !t.found)
        .map(|t| md_code(&t.name))
        .collect();
    if !missing_tools.is_empty() {
        let _ = writeln!(
            out,
            "\n**Not on PATH where this plan was made:** {}",
            missing_tools.join(", ")
        );
    }
    if !plan.missing_env.is_empty() {
        let _ = writeln!(
            out,
            "\n**Variables not set where this plan was made** (the run environment must set them):\n"
        );
        for m in &plan.missing_env {
            let (location, key) = (md_code(&m.location), md_code(&m.key.to_string()));
            let _ = writeln!(out, "- {} at {location} ({key})", md_code(&m.name));
        }
    }
}

/// Text on one line: a newline in a value could end the paragraph (or the
/// code span) it is in, and start markdown of its own; control, bidi and
/// zero-width characters would act on, reorder or hide text around them
/// in the rendered comment.
fn one_line(s: &str) -> String {
    visible_line(s).into_owned()
}

/// Text from the spec or the environment as inline markdown that shows as
/// written: it cannot open a link (or an autolink), an image, emphasis,
/// HTML, a table cell, or a new block.
fn md_text(s: &str) -> String {
    let s = one_line(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\`*_[]<>|!~#&:@".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Text as a code span in a table cell, where a `|` would end the cell.
fn md_cell_code(s: &str) -> String {
    md_code(&s.replace('|', "\\|"))
}

/// Text as a code span, with a fence longer than any backtick run in it.
fn md_code(s: &str) -> String {
    let s = &one_line(s);
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// A code fence longer than any backtick run in the commands.
fn fence_for(commands: &[String]) -> String {
    let longest = commands
        .iter()
        .flat_map(|c| c.split(|ch| ch != '`'))
        .map(str::len)
        .max()
        .unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}
