//! Backups and restore: ransomware recovery.
//!
//! A backup is taken every `interval`. An encrypted node is restored `restore_time` after
//! it is found encrypted (encryption announces itself): it comes back from the last
//! backup, clean of the attacker, and serves again. What was written since that backup is
//! lost: the summary counts the loss window (`data_loss_window_s`, summed over restores).
//! Every backup round is operations work (`backup_runs`).

use std::collections::{BTreeSet, VecDeque};

use crate::DefenseStep;
use bevy_ecs::prelude::*;
use paraverse_sim::prelude::*;
use paraverse_sim::scenario::Backups;
use rayon::prelude::*;

/// Backups' configuration, queue and counters.
#[derive(Resource, Debug, Clone)]
pub struct BackupPolicy {
    /// Parameters.
    pub config: Backups,
    /// (due tick, node) of restores under way, in due order.
    pub restoring: VecDeque<(u32, u32)>,
    /// Nodes with a restore under way.
    pub queued: BTreeSet<u32>,
    /// Backup rounds.
    pub runs: CounterId,
    /// Nodes restored.
    pub restores: CounterId,
    /// Seconds of data lost, summed over restores.
    pub loss: CounterId,
}

/// Defend stage: back up on the cadence, queue restores of encrypted nodes, restore.
pub fn backups(
    mut nodes: Query<&mut Security>,
    mut policy: ResMut<BackupPolicy>,
    clock: Res<Clock>,
    mut metrics: ResMut<Metrics>,
    mut log: ResMut<EventLog>,
) {
    let mut security = dense(nodes.contiguous_iter_mut().expect("node query is dense"));
    let security = security.bypass_change_detection();
    let tick = clock.tick;
    let policy = &mut *policy;
    let interval = policy.config.interval_ticks;
    if tick.is_multiple_of(interval) {
        metrics.add(policy.runs, 1);
    }
    let encrypted: Vec<u32> = security
        .par_chunks(CHUNK)
        .enumerate()
        .flat_map_iter(|(c, chunk)| {
            chunk
                .iter()
                .enumerate()
                .filter_map(move |(k, s)| s.encrypted.then_some((c * CHUNK + k) as u32))
        })
        .collect();
    for node in encrypted {
        if policy.queued.insert(node) {
            policy
                .restoring
                .push_back((tick.saturating_add(policy.config.restore_ticks), node));
            // Data since the last backup is gone.
            let lost_ticks = u64::from(tick % interval);
            metrics.add(policy.loss, lost_ticks * clock.tick_micros / 1_000_000);
        }
    }
    while let Some(&(due, node)) = policy.restoring.front() {
        if due > tick {
            break;
        }
        policy.restoring.pop_front();
        policy.queued.remove(&node);
        let s = &mut security[node as usize];
        s.rebuild();
        metrics.add(policy.restores, 1);
        log.push(RunEvent::new(tick, "restore", node));
    }
}

/// Parameters are rebuilt; restores under way are state.
impl Persist for BackupPolicy {
    fn save(&self, out: &mut Vec<u8>) -> Result<(), CheckpointError> {
        paraverse_sim::checkpoint::encode::<Self, _>(&(&self.restoring, &self.queued), out)
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<(), CheckpointError> {
        (self.restoring, self.queued) = paraverse_sim::checkpoint::decode::<Self, _>(bytes)?;
        Ok(())
    }
}

/// Adds backups and restores and their counters to the defend stage.
pub(crate) fn install(builder: &mut UniverseBuilder<'_>, b: Backups) {
    let mut m = builder.metrics();
    let policy = BackupPolicy {
        config: b,
        restoring: Default::default(),
        queued: Default::default(),
        runs: m.register("backup_runs", "backup rounds (operations cost)"),
        restores: m.register("restores", "encrypted nodes restored from backup"),
        loss: m.register(
            "data_loss_window_s",
            "seconds of data lost to restores, summed",
        ),
    };
    builder.world_mut().insert_resource(policy);
    builder.persist::<BackupPolicy>();
    builder.add_systems(SimStage::Defend, backups.in_set(DefenseStep::Recover));
}
