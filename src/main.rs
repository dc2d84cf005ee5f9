//! The `stackhook` binary: parse arguments, run the command, map failures
//! to exit codes. Everything else is in the library.

use std::io::IsTerminal;

use clap::Parser;
use stackhook::{cli, commands};

fn main() {
    let cli = cli::Cli::parse();
    install_report_handler(cli.color);
    if let Err(failure) = commands::run(cli.command, cli.color) {
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
