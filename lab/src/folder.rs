//! Results folders are owned: one process writes a folder at a time, and every file in it
//! is replaced whole or not at all.
//!
//! Two `paraverse sweep` of one experiment used to interleave their appends and share one
//! temporary name (`runs.tmp`) for two files, so one's CSV landed in the other's JSON
//! lines. Now a sweep, merge or optimise takes an exclusive [`FolderLock`] on its results
//! folder first; a second one fails at once, naming the holder. The lock is an OS advisory
//! lock (`flock`) on `.paraverse.lock`: the kernel drops it when the holder dies, even by
//! `kill -9`, so a killed sweep never leaves a stale lock in the way of its own resume.
//! [`write_atomic`] writes through a temporary name unique to the process and the call,
//! then renames over the target.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::LabError;

/// The lock file's name inside a results folder.
pub const LOCK_FILE: &str = ".paraverse.lock";

/// An exclusive hold on a results folder, released when dropped (or when the process
/// dies).
#[derive(Debug)]
pub struct FolderLock {
    // Held for its lock; closing the file releases it.
    _file: File,
    path: PathBuf,
    dir: PathBuf,
}

impl FolderLock {
    /// Creates `dir` if needed and locks it for `what` (e.g. `sweep of exp.toml`), or
    /// fails at once with [`LabError::Busy`] naming the process that holds it.
    pub fn acquire(dir: &Path, what: &str) -> Result<Self, LabError> {
        std::fs::create_dir_all(dir)
            .map_err(LabError::io(format!("cannot create {}", dir.display())))?;
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(LabError::io(format!("cannot open {}", path.display())))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                // The holder writes its line right after locking; an empty read means it
                // is between the two, so look again a few times (at most half a second).
                let mut holder = String::new();
                for _ in 0..10 {
                    holder.clear();
                    let _ = file.rewind();
                    let _ = file.read_to_string(&mut holder);
                    if !holder.trim().is_empty() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                let holder = holder.trim();
                return Err(LabError::Busy {
                    dir: dir.to_owned(),
                    holder: if holder.is_empty() {
                        "another paraverse process".to_owned()
                    } else {
                        holder.to_owned()
                    },
                });
            }
            Err(TryLockError::Error(e)) => {
                return Err(LabError::io(format!("cannot lock {}", path.display()))(e));
            }
        }
        let line = format!(
            "process {} ({what}), since {} s after the Unix epoch\n",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        );
        let write = |f: &mut File| -> std::io::Result<()> {
            f.set_len(0)?;
            f.rewind()?;
            f.write_all(line.as_bytes())?;
            f.flush()
        };
        write(&mut file).map_err(LabError::io(format!("cannot write {}", path.display())))?;
        Ok(Self {
            _file: file,
            path,
            dir: dir.to_owned(),
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder held.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// A temporary name beside `path`, unique to this process and call: `.NAME.PID.N.tmp`.
fn temp_name(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Writes a file whole or not at all: through a temporary name unique to this process
/// and call, synced, then renamed over `path`. On failure the temporary file is removed
/// and `path` keeps its old contents.
pub fn write_atomic(path: &Path, text: impl AsRef<[u8]>) -> Result<(), LabError> {
    let tmp = temp_name(path);
    let what = || format!("cannot write {}", path.display());
    let result = (|| -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(text.as_ref())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(LabError::io(what()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_a_folder_is_refused_naming_the_holder_and_freed_on_drop() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("exp");
        let first = FolderLock::acquire(&dir, "sweep of a.toml").unwrap();
        let err = FolderLock::acquire(&dir, "sweep of b.toml").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("is in use by process"), "{msg}");
        assert!(msg.contains("sweep of a.toml"), "{msg}");
        drop(first);
        FolderLock::acquire(&dir, "sweep of b.toml").unwrap();
    }

    #[test]
    fn temporary_names_differ_per_file_and_call() {
        let a = temp_name(Path::new("d/runs.csv"));
        let b = temp_name(Path::new("d/runs.jsonl"));
        let c = temp_name(Path::new("d/runs.csv"));
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert!(a.to_string_lossy().ends_with(".tmp"));
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_leaves_no_temporary() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.csv");
        write_atomic(&path, "old\n").unwrap();
        // A directory in the way of the rename makes the write fail.
        let blocked = tmp.path().join("blocked");
        std::fs::create_dir_all(blocked.join("inner")).unwrap();
        assert!(write_atomic(&blocked, "new\n").is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\n");
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
