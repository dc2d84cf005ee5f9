//! The shape of the code, kept true by a test: the modules of `src/lib.rs`
//! are listed in pipeline order and each imports only modules listed
//! before it (so there is no import loop and the file list reads as the
//! pipeline); no source file is over 450 lines of code and no function over
//! 100 lines.

mod common;

use std::collections::BTreeMap;

use common::root;

/// The modules, in the order `src/lib.rs` declares them.
fn modules() -> Vec<String> {
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).unwrap();
    lib.lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';').to_string())
        .collect()
}

fn source(module: &str) -> String {
    std::fs::read_to_string(root().join("src").join(format!("{module}.rs"))).unwrap()
}

/// The code before the unit tests.
fn code(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |i| &text[..i])
}

/// The modules a source file names as `crate::NAME`.
fn imports(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code(text);
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

#[test]
fn every_source_file_is_a_module_of_lib() {
    let mut files: Vec<String> = std::fs::read_dir(root().join("src"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|f| f.ends_with(".rs") && f != "lib.rs" && f != "main.rs")
        .map(|f| f.trim_end_matches(".rs").to_string())
        .collect();
    files.sort();
    let mut listed = modules();
    listed.sort();
    assert_eq!(files, listed, "src/lib.rs must list every file of src/");
}

#[test]
fn imports_point_down_the_pipeline_only() {
    let order = modules();
    let rank: BTreeMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, m)| (m.as_str(), i))
        .collect();
    let mut wrong = Vec::new();
    for (i, module) in order.iter().enumerate() {
        for import in imports(&source(module)) {
            match rank.get(import.as_str()) {
                Some(&j) if j < i => {}
                Some(_) => wrong.push(format!("{module} imports {import}, listed after it")),
                None => wrong.push(format!("{module} imports crate::{import}, not a module")),
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn files_and_functions_stay_small() {
    let mut wrong = Vec::new();
    for module in modules() {
        let text = source(&module);
        let code = code(&text);
        let lines: Vec<&str> = code.lines().collect();
        if lines.len() > 450 {
            wrong.push(format!("src/{module}.rs has {} lines of code", lines.len()));
        }
        for (start, line) in lines.iter().enumerate() {
            let body = line.trim_start();
            let is_fn = ["fn ", "pub fn ", "pub(crate) fn "]
                .iter()
                .any(|p| body.starts_with(p));
            if !is_fn || body.ends_with(';') {
                continue;
            }
            // rustfmt closes a function at the indentation it opened at.
            let close = format!("{}}}", &line[..line.len() - body.len()]);
            let Some(len) = lines[start..].iter().position(|l| *l == close) else {
                continue;
            };
            if len + 1 > 100 {
                let name = body.split('(').next().unwrap_or(body);
                wrong.push(format!("src/{module}.rs: `{name}` has {} lines", len + 1));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_readme_layout_is_the_real_one() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let layout = readme
        .split("## Layout")
        .nth(1)
        .and_then(|s| s.split("```").nth(1))
        .expect("README.md has a Layout section with a code block");
    let mut listed: Vec<(String, Vec<String>)> = Vec::new();
    for line in layout.lines() {
        if let Some(rest) = line.strip_prefix("src/") {
            let module = rest.split(".rs").next().unwrap().to_string();
            listed.push((module, Vec::new()));
        } else if let Some(uses) = line.trim_start().strip_prefix("uses ") {
            let last = listed.last_mut().expect("a `uses` line follows a file");
            last.1 = uses.split(", ").map(str::to_string).collect();
        }
    }
    let real: Vec<(String, Vec<String>)> = modules()
        .into_iter()
        .map(|m| {
            let mut uses = imports(&source(&m));
            uses.sort();
            (m, uses)
        })
        .collect();
    let listed: Vec<(String, Vec<String>)> = listed
        .into_iter()
        .map(|(m, mut u)| {
            u.sort();
            (m, u)
        })
        .collect();
    assert_eq!(
        listed, real,
        "README.md's Layout is stale: list every module of src/lib.rs in its order, with what it uses"
    );
}
