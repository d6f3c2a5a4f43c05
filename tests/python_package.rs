//! The Python package (#21), from the README's test command: puts the native module this
//! `cargo test` built (`target/<profile>/lib_core.so`) beside the package's Python half in
//! a temporary folder and runs its pytest suite (py/tests) against it, with the CLI binary
//! for the comparisons that need it. Needs Python 3 with pyarrow, pytest and gymnasium;
//! without them it skips, unless `PARAVERSE_REQUIRE_PYTHON=1` (set by `.ci/run`, which
//! installs them).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{repo, required, skip_unless_required, text};

/// The native module built alongside this test, or `None` if cargo did not build it.
fn native_module() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    // target/<profile>/deps/python_package-<hash> → target/<profile>/lib_core.so
    let profile = exe.parent()?.parent()?;
    let lib = profile.join("lib_core.so");
    lib.is_file().then_some(lib)
}

#[test]
fn python_package_tests_pass() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python)
        .args(["-c", "import pyarrow, pytest, gymnasium, numpy, pettingzoo"])
        .output();
    match probe {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return skip_unless_required(
                "PARAVERSE_REQUIRE_PYTHON",
                &format!(
                    "{python} lacks pyarrow, pytest, gymnasium or pettingzoo: {}",
                    text(&o.stderr)
                ),
            );
        }
        Err(e) => {
            return skip_unless_required("PARAVERSE_REQUIRE_PYTHON", &format!("{python}: {e}"));
        }
    }
    // `cargo test` does not build a cdylib no test depends on: build it (or find it up to
    // date) in the same profile, so the suite always runs against the current sources.
    // Built as part of the workspace with its tests, not `-p paraverse-py`: cargo picks
    // dependency features from the packages and targets selected, and `-p` alone would
    // select other features than `cargo test --workspace` and so rebuild every crate below
    // (five minutes on CI's two cores); this way only the cdylib itself is compiled.
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--workspace", "--lib", "--tests"])
        .current_dir(repo())
        .status()
        .expect("cargo runs");
    assert!(
        status.success(),
        "cargo build --workspace --lib --tests (for paraverse-py) failed"
    );
    let lib = native_module().expect("lib_core.so after cargo build --workspace --lib");
    let dir = tempfile::tempdir().unwrap();
    let package = dir.path().join("paraverse");
    std::fs::create_dir(&package).unwrap();
    for entry in std::fs::read_dir(repo().join("py/python/paraverse")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "py") {
            std::fs::copy(&path, package.join(path.file_name().unwrap())).unwrap();
        }
    }
    std::fs::copy(&lib, package.join("_core.abi3.so")).unwrap();
    let o = Command::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(repo().join("py/tests"))
        .env("PYTHONPATH", dir.path())
        .env("PARAVERSE_BIN", env!("CARGO_BIN_EXE_paraverse"))
        // Only pytest's own plugins: a site-packages plugin must not break the run.
        .env("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let out = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "py/tests failed:\n{out}");
    assert!(
        !out.contains("skipped") || !required("PARAVERSE_REQUIRE_PYTHON"),
        "a Python test skipped where all are required:\n{out}"
    );
    eprintln!("{out}");
}
