//! What every end-to-end test binary needs: run the real `paraverse`, read its output,
//! find the repository, and skip a test whose tool is missing unless CI requires it.

#![allow(
    dead_code,
    reason = "each test binary uses its own subset of these helpers"
)]

pub mod tmux;

use std::path::Path;
use std::process::{Command, Output};

/// The binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_paraverse"))
}

/// Runs `paraverse ARGS` in `dir` and returns what it did.
pub fn paraverse(args: &[&str], dir: &Path) -> Output {
    bin()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

/// Output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The repository root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Whether CI requires what `var` guards (`PARAVERSE_REQUIRE_GPU=1`, ...).
pub fn required(var: &str) -> bool {
    std::env::var_os(var).is_some_and(|v| v == "1")
}

/// A test cannot run here because of `why`: fails if `var` requires it, else says it
/// skips.
pub fn skip_unless_required(var: &str, why: &str) {
    assert!(!required(var), "{var}=1 but {why}");
    eprintln!("skipping: {why} (set {var}=1 to fail instead)");
}
