//! The `stackhook` binary: parse arguments, run the command, map failures
//! to exit codes. Everything else is in the library.

use std::io::{IsTerminal, Write};

use clap::Parser;
use stackhook::base::timeline;
use stackhook::cli::{args, commands};
use stackhook::run::guardian;

fn main() {
    timeline::mark("started");
    // `--version` alone is answered before building the whole parser.
    let mut args = std::env::args_os().skip(1);
    if let (Some(arg), None) = (args.next(), args.next())
        && (arg == "--version" || arg == "-V")
    {
        let _ = writeln!(std::io::stdout(), "stackhook {}", args::VERSION);
        return;
    }
    // A run's commands must end with it: the process the caller started
    // stays their guardian (forked while this process has one thread).
    // Forked before the arguments are parsed where they plainly ask for a
    // run: neither process then carries, page by page, what the parser
    // wrote (60 page faults fewer a run). Only off a terminal (CI, hooks):
    // on one, the parser's errors and help are printed by the process in
    // the terminal's foreground, as for every other command.
    let on_terminal = std::io::stdout().is_terminal() || std::io::stderr().is_terminal();
    let forked_early = !on_terminal && args::plainly_a_run(std::env::args_os().skip(1));
    if forked_early {
        guardian::start();
        timeline::mark("worker forked");
    }
    let cli = args::Cli::parse();
    timeline::mark("arguments parsed");
    if let args::Command::Run(args) = &cli.command
        && !args.dry_run
        && !forked_early
    {
        guardian::start();
        timeline::mark("worker forked");
    }
    install_report_handler(cli.color);
    if let Err(failure) = commands::run(cli.command, cli.color) {
        let code = failure.exit_code();
        // One write: stderr is unbuffered, and the report would otherwise
        // go out a few bytes per system call.
        let mut text = String::new();
        for diag in failure.into_diags() {
            text.push_str(&format!("{:?}\n", miette::Report::new(diag)));
        }
        let _ = std::io::stderr().write_all(text.as_bytes());
        std::process::exit(code);
    }
}

/// Deterministic diagnostics off a terminal (logs, tests): no colour, a
/// fixed width.
fn install_report_handler(color: args::Color) {
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
