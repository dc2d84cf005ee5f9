//! Writing to stdout and stderr without a panic: `println!` and
//! `eprintln!` panic when a write fails (a full disk, a reader that went
//! away). Here a failed write is an error, and the caller decides what it
//! means: a command whose output is its result fails (exit 1); a run,
//! whose result is the login, logs on as best it can.

use std::io::{self, Write};

use crate::base::diagnostic::{Code, Diag};
use crate::base::failure::Failure;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Writes all of `text` and flushes it (one write where it can: stderr is
/// unbuffered, and a message in pieces is a system call per piece).
pub fn write(stream: Stream, text: &str) -> io::Result<()> {
    fn all(mut out: impl Write, text: &str) -> io::Result<()> {
        out.write_all(text.as_bytes())?;
        out.flush()
    }
    match stream {
        Stream::Stdout => all(io::stdout().lock(), text),
        Stream::Stderr => all(io::stderr().lock(), text),
    }
}

/// `write`, where output that is missing or cut short fails the command.
pub fn print(stream: Stream, text: &str) -> Result<(), Failure> {
    write(stream, text).map_err(|e| Failure::failed(unwritten(stream, &e)))
}

/// What a failed write says (where stderr still works).
pub fn unwritten(stream: Stream, error: &io::Error) -> Diag {
    Diag::new(
        Code::Output,
        format!("cannot write to {}: {error}", stream.name()),
    )
    .help("the output is missing or cut short: free space on the disk, or read the pipe to its end")
}
