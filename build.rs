//! Puts the git commit into `stackhook --version`. A build outside a git
//! checkout (a crate tarball) may set STACKHOOK_GIT_COMMIT itself.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=STACKHOOK_GIT_COMMIT");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs");
    println!("cargo:rerun-if-changed=.git/index");
    let commit = std::env::var("STACKHOOK_GIT_COMMIT").ok().or_else(|| {
        let out = Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()
            .filter(|o| o.status.success())?;
        let mut commit = String::from_utf8(out.stdout).ok()?.trim().to_string();
        let dirty = Command::new("git")
            .args(["status", "--porcelain", "--untracked-files=no"])
            .output()
            .is_ok_and(|o| !o.stdout.is_empty());
        if dirty {
            commit.push_str("-dirty");
        }
        Some(commit)
    });
    println!(
        "cargo:rustc-env=STACKHOOK_GIT_COMMIT={}",
        commit.unwrap_or_else(|| "unknown commit".into())
    );
}
