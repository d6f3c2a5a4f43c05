//! Attack campaigns as ECS systems: the scenario holds their data, this crate their
//! behaviour.
//!
//! [`AttackerPlugin`] reads the campaigns of a scenario and adds their systems to the
//! attack stage. Each campaign kind is a module; today: [`worm`].
//!
//! ```
//! use paraverse_sim::prelude::*;
//! use paraverse_attackers::AttackerPlugin;
//! let scenario = paraverse_sim::bundled::load(Some("worm-logistic")).unwrap().with_ticks(3);
//! let mut universe = Universe::build(scenario, &[&AttackerPlugin]).unwrap();
//! universe.run(|_| {});
//! assert!(universe.finish().summary.counters["scans"] > 0);
//! ```

pub mod worm;

use paraverse_sim::prelude::*;

/// Adds every campaign of the scenario to the attack stage.
pub struct AttackerPlugin;

impl SimPlugin for AttackerPlugin {
    fn name(&self) -> &'static str {
        "attackers"
    }

    fn build(&self, builder: &mut UniverseBuilder<'_>) -> Result<(), String> {
        let campaigns = worm::worm_campaigns(builder.scenario);
        if campaigns.len() > usize::from(u8::MAX) {
            return Err(format!(
                "{} campaigns: at most {} are supported",
                campaigns.len(),
                u8::MAX
            ));
        }
        if !campaigns.is_empty() {
            let mut metrics = builder.metrics();
            let scans = metrics.register("scans", "worm scan attempts");
            let infections = metrics.register("infections", "nodes newly compromised by a worm");
            builder.world_mut().insert_resource(worm::WormCampaigns {
                campaigns,
                scans,
                infections,
            });
            builder.add_systems(SimStage::Attack, worm::worm_spread);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
