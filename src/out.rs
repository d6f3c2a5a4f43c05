//! Standard output that fails like a Unix tool instead of panicking.
//!
//! `println!` panics when standard output is a closed pipe (`paraverse list | head -1`)
//! or a full disk (`> /dev/full`). The binary shadows `println!` and `print!` with macros
//! (in `main.rs`) that write through [`write_stdout`] and return [`StdoutError`] with `?`;
//! `main` then exits quietly with status 0 on a closed pipe, as `ls | head` does, and
//! with an error and status 1 on any other write failure.

use std::fmt;
use std::io::Write as _;

/// Standard output could not be written.
#[derive(Debug)]
pub struct StdoutError(pub std::io::Error);

impl fmt::Display for StdoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot write to standard output: {}", self.0)
    }
}

impl std::error::Error for StdoutError {}

impl StdoutError {
    /// Whether the reader went away (a closed pipe): not a failure of ours.
    pub fn is_closed_pipe(&self) -> bool {
        self.0.kind() == std::io::ErrorKind::BrokenPipe
    }
}

/// Writes formatted text to standard output.
pub fn write_stdout(args: fmt::Arguments<'_>) -> Result<(), StdoutError> {
    std::io::stdout()
        .lock()
        .write_fmt(args)
        .map_err(StdoutError)
}

/// Flushes standard output (what a line-buffered stdout still holds).
pub fn flush_stdout() -> Result<(), StdoutError> {
    std::io::stdout().lock().flush().map_err(StdoutError)
}
