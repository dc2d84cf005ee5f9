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

/// The Layout block README.md should have: its descriptions (or a
/// placeholder for a new module), in lib.rs order, with the real imports.
fn expected_layout(layout: &str) -> String {
    let mut described: BTreeMap<String, String> = BTreeMap::new();
    let mut groups: BTreeMap<String, String> = BTreeMap::new();
    let mut group = None;
    for line in layout.lines() {
        if let Some(g) = line.strip_prefix("# ") {
            group = Some(g.to_string());
        } else if let Some(rest) = line.strip_prefix("src/") {
            let (file, text) = rest.split_once(' ').unwrap_or((rest, ""));
            let module = file.trim_end_matches(".rs").to_string();
            described.insert(module.clone(), text.trim().to_string());
            if let Some(g) = group.take() {
                groups.insert(module, g);
            }
        }
    }
    let mut out = String::from("\n");
    for module in modules() {
        if let Some(g) = groups.get(&module) {
            out.push_str(&format!("# {g}\n"));
        }
        let text = described
            .get(&module)
            .cloned()
            .unwrap_or_else(|| "(describe this module)".into());
        out.push_str(&format!("{:<24}{text}\n", format!("src/{module}.rs")));
        let uses = imports(&source(&module));
        if !uses.is_empty() {
            out.push_str(&format!("{}uses {}\n", " ".repeat(26), uses.join(", ")));
        }
    }
    out
}

/// With STACKHOOK_UPDATE_LAYOUT=1, a stale block is rewritten in place.
#[test]
fn the_readme_layout_is_the_real_one() {
    let path = root().join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let layout = readme
        .split("## Layout")
        .nth(1)
        .and_then(|s| s.split("```").nth(1))
        .expect("README.md has a Layout section with a code block");
    assert!(
        !layout.contains("(describe this module)"),
        "describe every new module in README.md's Layout"
    );
    let expected = expected_layout(layout);
    if layout == expected {
        return;
    }
    if std::env::var_os("STACKHOOK_UPDATE_LAYOUT").is_some() {
        std::fs::write(&path, readme.replacen(layout, &expected, 1)).unwrap();
        return;
    }
    panic!(
        "README.md's Layout is stale (rerun with STACKHOOK_UPDATE_LAYOUT=1 to rewrite it); it should read:\n{expected}"
    );
}
