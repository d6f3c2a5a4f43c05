//! `paraverse run --checkpoint-every` and `--from`: where checkpoints go, which one a
//! folder's "latest" is, and how many are kept.
//!
//! A checkpoint folder holds `tick-NNNNNNNNNN.ckpt` files (the tick zero-padded, so names
//! sort by tick). Each is written to a temporary name and renamed into place, so a run
//! killed while writing leaves the previous checkpoints whole; `--from FOLDER` takes the
//! one with the highest tick.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use paraverse_sim::prelude::*;

use crate::invalid;

/// When and where a run writes checkpoints.
pub struct Cadence {
    /// Every this many ticks.
    pub every: u32,
    /// The folder.
    pub dir: PathBuf,
    /// How many to keep (0: all).
    pub keep: usize,
}

impl Cadence {
    /// The cadence of `--checkpoint-every DURATION` for a scenario's tick (at least one
    /// tick), creating the folder.
    pub fn new(every: SimDuration, tick: SimDuration, dir: PathBuf, keep: usize) -> Result<Self> {
        let ticks = every.ticks_ceil(tick);
        let every = u32::try_from(ticks.max(1)).map_err(|_| {
            invalid(format!(
                "--checkpoint-every {every}: more than {} ticks of {tick}",
                u32::MAX
            ))
        })?;
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the checkpoint folder {}", dir.display()))?;
        Ok(Self { every, dir, keep })
    }

    /// Whether the universe is at a tick that gets a checkpoint.
    pub fn due(&self, tick: u32) -> bool {
        tick > 0 && tick.is_multiple_of(self.every)
    }

    /// Writes the universe's checkpoint and prunes old ones; returns its path and size.
    pub fn write(&self, universe: &Universe) -> Result<(PathBuf, u64)> {
        let tick = universe.clock().tick;
        let path = self.dir.join(file_name(tick));
        let bytes = universe
            .checkpoint()
            .and_then(|c| c.write(&path))
            .with_context(|| format!("cannot write the checkpoint at tick {tick}"))?;
        if self.keep > 0 {
            let mut all = list(&self.dir)?;
            all.sort();
            let excess = all.len().saturating_sub(self.keep);
            for (_, old) in all.into_iter().take(excess) {
                std::fs::remove_file(&old)
                    .with_context(|| format!("cannot remove {}", old.display()))?;
            }
        }
        Ok((path, bytes))
    }
}

/// The file name of the checkpoint at `tick`.
pub fn file_name(tick: u32) -> String {
    format!("tick-{tick:010}.ckpt")
}

/// The checkpoints in a folder, as (tick, path).
fn list(dir: &Path) -> Result<Vec<(u32, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        let tick = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("tick-"))
            .and_then(|n| n.strip_suffix(".ckpt"))
            .and_then(|n| n.parse::<u32>().ok());
        if let Some(tick) = tick {
            found.push((tick, path));
        }
    }
    Ok(found)
}

/// The checkpoint `--from PATH` names: the file itself, or a folder's latest.
pub fn resolve(path: &Path) -> Result<PathBuf> {
    let meta =
        std::fs::metadata(path).map_err(|e| invalid(format!("--from {}: {e}", path.display())))?;
    if !meta.is_dir() {
        return Ok(path.to_owned());
    }
    list(path)?
        .into_iter()
        .max()
        .map(|(_, p)| p)
        .ok_or_else(|| {
            invalid(format!(
                "--from {}: the folder holds no checkpoint (tick-NNNNNNNNNN.ckpt)",
                path.display()
            ))
        })
}

/// Reads the checkpoint `--from PATH` names. A file that is not a checkpoint, damaged, or
/// from another version is bad input (exit status 2).
pub fn read(path: &Path) -> Result<(PathBuf, Checkpoint)> {
    let file = resolve(path)?;
    match Checkpoint::read(&file) {
        Ok(c) => Ok((file, c)),
        Err(e @ CheckpointError::Io { .. }) => Err(anyhow::Error::new(e)),
        Err(e) => Err(invalid(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_tick_and_a_folder_resolves_to_its_latest() {
        let dir = tempfile::tempdir().unwrap();
        for tick in [9, 120, 30] {
            std::fs::write(dir.path().join(file_name(tick)), b"x").unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        assert_eq!(
            resolve(dir.path()).unwrap(),
            dir.path().join("tick-0000000120.ckpt")
        );
        let empty = tempfile::tempdir().unwrap();
        assert!(
            resolve(empty.path())
                .unwrap_err()
                .to_string()
                .contains("no checkpoint")
        );
    }
}
