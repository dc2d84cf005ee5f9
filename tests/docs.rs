//! The Markdown a user reads leads somewhere: every relative link and image
//! in it names a file or folder of the repository that exists, and every
//! `#fragment` a heading of its target, named as GitHub names headings. And
//! README stays short: the reference lives in docs/, linked from it.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use common::root;
use pulldown_cmark::{Event, LinkType, Options, Parser, Tag, TagEnd};

/// Folders never walked: build output, git's own, and the fuzz corpora
/// (inputs for the fuzzer, not text for a reader).
const SKIPPED: &[&str] = &[
    ".git",
    "target",
    "fuzz/corpus",
    "fuzz/seeds",
    "fuzz/artifacts",
    "fuzz/target",
];

/// README's length, in lines, must stay below this.
const README_LINES: usize = 300;

/// Every `.md` file under `dir`, relative to it, sorted.
fn markdown_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![PathBuf::new()];
    while let Some(rel) = todo.pop() {
        for entry in std::fs::read_dir(dir.join(&rel)).unwrap() {
            let entry = entry.unwrap();
            let path = rel.join(entry.file_name());
            let kind = entry.file_type().unwrap();
            let skipped =
                SKIPPED.iter().any(|s| path == Path::new(s)) || entry.file_name() == "target";
            if kind.is_dir() && !skipped {
                todo.push(path);
            } else if kind.is_file() && path.extension().is_some_and(|e| e == "md") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The anchor GitHub gives a heading: lowercase, punctuation dropped except
/// `-` and `_`, each space a `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

/// One Markdown file: its headings' anchors, and its links and images with
/// the line each starts on.
struct Doc {
    anchors: BTreeSet<String>,
    links: Vec<(usize, String)>,
}

fn parse(text: &str) -> Doc {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS;
    let mut anchors = BTreeSet::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut links = Vec::new();
    let mut heading: Option<String> = None;
    for (event, range) in Parser::new_ext(text, options).into_offset_iter() {
        let line = text[..range.start].matches('\n').count() + 1;
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::End(TagEnd::Heading(_)) => {
                let base = slug(&heading.take().unwrap_or_default());
                // A repeated heading gets `-1`, `-2`... as on GitHub.
                let n = seen.entry(base.clone()).or_insert(0);
                anchors.insert(match *n {
                    0 => base.clone(),
                    k => format!("{base}-{k}"),
                });
                *n += 1;
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = heading.as_mut() {
                    h.push_str(&t);
                }
            }
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                ..
            }) if link_type != LinkType::Email => links.push((line, dest_url.to_string())),
            Event::Start(Tag::Image { dest_url, .. }) => links.push((line, dest_url.to_string())),
            _ => {}
        }
    }
    Doc { anchors, links }
}

/// `%20` and the like, as a browser reads them in a link.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = s
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `path` with `.` and `..` taken out, without touching the disk.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            // Above the first folder stays above it: `..` is kept.
            Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// Why `dest`, a link in `file` (relative to `dir`), leads nowhere, if it
/// does. Absolute http(s) and mailto links are not followed.
fn broken(
    dir: &Path,
    file: &Path,
    dest: &str,
    docs: &mut BTreeMap<PathBuf, Doc>,
) -> Option<String> {
    let lower = dest.to_ascii_lowercase();
    if ["http://", "https://", "mailto:"]
        .iter()
        .any(|s| lower.starts_with(s))
    {
        return None;
    }
    if dest.is_empty() {
        return Some("an empty link".into());
    }
    let (path, fragment) = match dest.split_once('#') {
        Some((p, f)) => (percent_decode(p), Some(percent_decode(f))),
        None => (percent_decode(dest), None),
    };
    let target = if path.is_empty() {
        file.to_path_buf()
    } else if let Some(from_root) = path.strip_prefix('/') {
        normalize(Path::new(from_root))
    } else {
        normalize(&file.parent().unwrap().join(&path))
    };
    if target.starts_with("..") || !dir.join(&target).exists() {
        return Some(format!("no file or folder {}", target.display()));
    }
    let fragment = fragment?;
    // A folder shows its README.
    let page = if dir.join(&target).is_dir() {
        target.join("README.md")
    } else {
        target.clone()
    };
    if page.extension().is_none_or(|e| e != "md") || !dir.join(&page).is_file() {
        let line_anchor = fragment.split('-').all(|l| {
            l.len() > 1 && l.starts_with('L') && l[1..].bytes().all(|b| b.is_ascii_digit())
        });
        return (!line_anchor).then(|| {
            format!(
                "`#{fragment}` into {}, which has no headings",
                target.display()
            )
        });
    }
    let doc = docs
        .entry(page.clone())
        .or_insert_with(|| parse(&std::fs::read_to_string(dir.join(&page)).unwrap()));
    (!doc.anchors.contains(&fragment))
        .then(|| format!("no heading `#{fragment}` in {}", page.display()))
}

/// Every link or image of the Markdown under `dir` that leads nowhere, as
/// `FILE:LINE: DEST: why`, and how many files were read.
fn broken_links(dir: &Path) -> (Vec<String>, usize) {
    let files = markdown_files(dir);
    let mut docs: BTreeMap<PathBuf, Doc> = BTreeMap::new();
    let mut wrong = Vec::new();
    for file in &files {
        let doc = parse(&std::fs::read_to_string(dir.join(file)).unwrap());
        for (line, dest) in &doc.links {
            if let Some(why) = broken(dir, file, dest, &mut docs) {
                wrong.push(format!("{}:{line}: {dest}: {why}", file.display()));
            }
        }
        docs.insert(file.clone(), doc);
    }
    (wrong, files.len())
}

/// A link that leads nowhere is a reader lost, and moving a section from
/// README into docs/ breaks links silently: every relative link and image
/// of every Markdown file a user reads must resolve, anchors included.
#[test]
fn every_relative_link_in_the_docs_resolves() {
    let root = root();
    let files = markdown_files(&root);
    for needed in [
        "README.md",
        "SECURITY.md",
        "BENCHMARKS.md",
        "CHANGELOG.md",
        "docs/providers.md",
        "examples/README.md",
        "integrations/spacelift/README.md",
    ] {
        assert!(
            files.iter().any(|f| f == Path::new(needed)),
            "{needed} was not found: {files:?}"
        );
    }
    let (wrong, _) = broken_links(&root);
    assert!(
        wrong.is_empty(),
        "links that lead nowhere:\n{}",
        wrong.join("\n")
    );
}

/// README is what a new user reads first: what stackhook is, how to set it
/// up and use it, and where the rest is. The reference goes in docs/.
#[test]
fn the_readme_stays_short() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines < README_LINES,
        "README.md has {lines} lines; keep it under {README_LINES} by moving reference material into docs/"
    );
}

/// The check above could pass by finding nothing: on a small tree with a
/// broken link, a broken anchor and a broken image (and the same under a
/// skipped folder), it reports exactly the three, and accepts the rest.
#[test]
fn a_broken_link_and_a_broken_anchor_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "README.md",
        "# Top\n\n## Set-up: the `--env-file` flag\n\n## Again\n\n## Again\n\n\
         [ok](docs/a.md), [ok](docs/a.md#the-spec-version-1), [ok](#set-up-the---env-file-flag),\n\
         [ok](#again-1), [ok](docs/), [ok](docs#the-spec-version-1), [ok](src/x.rs#L3-L5),\n\
         [ok](https://example.com/nowhere), [ok](mailto:a@example.com), <a@example.com>\n\n\
         [gone](docs/missing.md)\n\n\
         [bad anchor](docs/a.md#no-such-heading)\n\n\
         ![gone](img/missing.png)\n",
    );
    write(
        "docs/a.md",
        "# A\n\n## The spec (version 1)\n\n[up](../README.md#top)\n",
    );
    write("docs/README.md", "# Docs\n\n## The spec (version 1)\n");
    write("src/x.rs", "fn main() {}\n");
    write("target/doc/b.md", "[skipped](nowhere.md)\n");
    write("fuzz/corpus/c.md", "[skipped](nowhere.md)\n");
    let (wrong, files) = broken_links(dir.path());
    assert_eq!(files, 3, "README.md, docs/README.md and docs/a.md");
    assert_eq!(
        wrong,
        [
            "README.md:13: docs/missing.md: no file or folder docs/missing.md",
            "README.md:15: docs/a.md#no-such-heading: no heading `#no-such-heading` in docs/a.md",
            "README.md:17: img/missing.png: no file or folder img/missing.png",
        ]
    );
}

/// Anchors are only as right as the names given to headings: these are
/// GitHub's names for headings of this repository's own kind.
#[test]
fn headings_are_named_as_github_names_them() {
    for (heading, anchor) in [
        ("Why not serde_yaml", "why-not-serde_yaml"),
        ("The spec (version 1)", "the-spec-version-1"),
        (
            "Spacelift quickstart: the plugin",
            "spacelift-quickstart-the-plugin",
        ),
        ("--env-file and the flags", "--env-file-and-the-flags"),
        (
            "Release files, and how they are made",
            "release-files-and-how-they-are-made",
        ),
        (
            "plan of a shipped spec: 0.55-0.69x (target ≤ 1.0)",
            "plan-of-a-shipped-spec-055-069x-target--10",
        ),
    ] {
        assert_eq!(slug(heading), anchor, "{heading}");
    }
    let doc = parse("# Twice\n\n# Twice\n\n# `code` *and* [link](x)\n");
    assert_eq!(
        doc.anchors,
        BTreeSet::from(["twice".into(), "twice-1".into(), "code-and-link".into()])
    );
}

/// The source paths the docs name (`src/run/process.rs`): a file moved to
/// another stage folder must not leave the docs pointing at nothing. The
/// CHANGELOG is history and names files where they were.
#[test]
fn every_source_path_the_docs_name_exists() {
    let root = root();
    let mut wrong = Vec::new();
    for file in markdown_files(&root) {
        if file == Path::new("CHANGELOG.md") {
            continue;
        }
        let text = std::fs::read_to_string(root.join(&file)).unwrap();
        for (i, _) in text.match_indices("src/") {
            let before = text[..i].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '/') {
                continue;
            }
            let path: String = text[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '/' | '.'))
                .collect();
            if path.ends_with(".rs") && !root.join(&path).is_file() {
                wrong.push(format!("{}: {path}", file.display()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "source paths that do not exist:\n{}",
        wrong.join("\n")
    );
}
