//! stackhook: spec -> resolved values -> plan -> preview or execution.
//! This file only parses arguments, runs the command and maps failures to
//! exit codes.

// Diagnostics are large but only travel the cold path to `main`.
#![allow(clippy::result_large_err)]

mod cli;
mod commands;
mod diagnostic;
mod execute;
mod init;
mod interpolate;
mod kubeconfig;
mod plan;
mod preview;
mod provider;
mod render;
mod resolve;
mod rollback;
mod schema;
mod secrets;
mod shell;
mod signals;
mod spec;

use std::io::IsTerminal;

use clap::Parser;

/// The version with the commit it was built from (see build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("STACKHOOK_GIT_COMMIT"),
    ")"
);

fn main() {
    let cli = cli::Cli::parse();
    let color = cli.color;
    install_report_handler(color);
    if let Err(failure) = commands::run(cli.command, color) {
        let code = failure.exit_code();
        for diag in failure.into_diags() {
            eprintln!("{:?}", miette::Report::new(diag));
        }
        std::process::exit(code);
    }
}

/// Deterministic diagnostics off a terminal (logs, tests): no colour, a
/// fixed width.
fn install_report_handler(color: cli::Color) {
    let tty = std::io::stderr().is_terminal();
    let colored = color.enabled(tty);
    let _ = miette::set_hook(Box::new(move |_| {
        let theme = if colored {
            miette::GraphicalTheme::unicode()
        } else {
            miette::GraphicalTheme::unicode_nocolor()
        };
        let mut handler = miette::GraphicalReportHandler::new_themed(theme);
        if !tty {
            handler = handler.with_width(100);
        }
        Box::new(handler)
    }));
}
