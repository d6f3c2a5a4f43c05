//! Backups: periodic copies from which an encrypted node is restored.

use super::*;

/// Its tunable parameters.
pub(super) const SPACE: &[Param] = &[
    dur(
        "backups.interval",
        1.0,
        604_800.0,
        900.0,
        "time between backups",
    ),
    dur(
        "backups.restore_time",
        0.0,
        604_800.0,
        300.0,
        "time to restore an encrypted node",
    ),
];

/// Resolved backups.
#[derive(Debug, Clone, Copy)]
pub struct Backups {
    /// Ticks between backups.
    pub interval_ticks: u32,
    /// Ticks to restore an encrypted node.
    pub restore_ticks: u32,
}

impl Section for Backups {
    type Spec = BackupSpec;

    fn resolve(v: &mut Validator<'_>, b: &BackupSpec, cx: &Context<'_>) -> Self {
        Backups {
            interval_ticks: v
                .ticks_in_space("backups.interval", b.interval, cx.tick)
                .max(1),
            restore_ticks: v.ticks_in_space("backups.restore_time", b.restore_time, cx.tick),
        }
    }
}
