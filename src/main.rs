//! The `stackhook` binary: parse arguments, run the command, map failures
//! to exit codes. Everything else is in the library.

use std::io::{IsTerminal, Write};

use clap::Parser;
use stackhook::base::failure::Failure;
use stackhook::base::output::{self, Stream};
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
        let version = format!("stackhook {}\n", args::VERSION);
        if let Err(failure) = output::print(Stream::Stdout, &version) {
            install_report_handler(args::Color::Auto);
            exit(failure);
        }
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
    let cli = args::Cli::try_parse().unwrap_or_else(|e| clap_exit(&e));
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
        exit(failure);
    }
}

/// Reports a failure on stderr and exits with its code.
fn exit(failure: Failure) -> ! {
    let code = failure.exit_code();
    let mut text = String::new();
    for diag in failure.into_diags() {
        text.push_str(&format!("{:?}\n", miette::Report::new(diag)));
    }
    // Nothing is left to say that it could not be said: the code says it.
    let _ = output::write(Stream::Stderr, &text);
    std::process::exit(code);
}

/// Help, `--version` and usage errors, as clap prints them; help that
/// cannot be written fails (exit 1), as any other output.
fn clap_exit(e: &clap::Error) -> ! {
    let printed = e.print().and_then(|()| std::io::stdout().flush());
    match printed {
        Err(error) if !e.use_stderr() => {
            install_report_handler(args::Color::Auto);
            exit(Failure::failed(output::unwritten(Stream::Stdout, &error)));
        }
        _ => std::process::exit(e.exit_code()),
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
