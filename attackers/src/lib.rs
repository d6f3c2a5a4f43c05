//! Attack campaigns as ECS systems: the scenario holds their data, this crate their
//! behaviour.
//!
//! [`AttackerPlugin`] reads the campaigns of a scenario and adds their systems to the
//! attack stage, in a fixed order: scanning campaigns ([`worm`], which also recruits for
//! [`botnet`]s), botnet floods, [`targeted`] campaigns (intrusion, cryptojacking,
//! exfiltration, asset theft, ransomware, false data, poisoning), [`identity`] campaigns
//! (phishing, takeover), then availability accounting. Every campaign is a kill chain
//! ([`chain`]) whose steps carry MITRE ATT&CK technique ids and are logged when first
//! reached; its effects feed the impact counters of [`paraverse_sim::killchain`].
//!
//! ```
//! use paraverse_sim::prelude::*;
//! use paraverse_attackers::AttackerPlugin;
//! let scenario = paraverse_sim::bundled::load(Some("worm-logistic")).unwrap().with_ticks(3);
//! let mut universe = Universe::build(scenario, &[&AttackerPlugin]).unwrap();
//! universe.run(|_| {});
//! assert!(universe.finish().summary.counters["scans"] > 0);
//! ```

pub mod botnet;
pub mod chain;
pub mod identity;
pub mod ledger;
pub mod targeted;
pub mod worm;

use bevy_ecs::prelude::*;
use paraverse_sim::prelude::*;
use paraverse_sim::scenario::CampaignKind;

/// Adds every campaign of the scenario to the attack stage.
pub struct AttackerPlugin;

impl SimPlugin for AttackerPlugin {
    fn name(&self) -> &'static str {
        "attackers"
    }

    fn build(&self, builder: &mut UniverseBuilder<'_>) -> Result<(), String> {
        let scenario = builder.scenario;
        if scenario.campaigns.len() > usize::from(CampaignId::MAX) {
            return Err(format!(
                "{} campaigns: at most {} are supported",
                scenario.campaigns.len(),
                CampaignId::MAX
            ));
        }
        if scenario.campaigns.is_empty() {
            return Ok(());
        }
        let world = builder.world_mut();
        let security: Vec<Security> = world
            .query::<(&NodeId, &Security)>()
            .iter(world)
            .map(|(_, s)| *s)
            .collect();
        let mut worms = {
            let mut metrics = world.resource_mut::<Metrics>();
            worm::worm_campaigns(scenario, &mut metrics)
        };
        for w in &mut worms {
            if w.needs_unpatched && w.goal == 0 {
                w.goal = worm::default_worm_goal(w, scenario, &security);
            }
        }
        let goals: Vec<u64> = scenario
            .campaigns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                worms
                    .iter()
                    .find(|w| w.campaign as usize == i && w.needs_unpatched)
                    .map_or(c.goal.unwrap_or(1), |w| w.goal)
            })
            .collect();
        chain::declare_all(scenario, &mut world.resource_mut::<CampaignBook>(), &goals);
        {
            let mut surface = world.resource_mut::<AttackSurface>();
            for w in &worms {
                surface.declare(w.campaign, w.surface());
            }
        }
        let only_worms = scenario
            .campaigns
            .iter()
            .all(|c| matches!(c.kind, CampaignKind::Worm(_)));
        world.insert_resource(worm::WormCampaigns { campaigns: worms });
        builder.persist::<worm::WormCampaigns>();
        let world = builder.world_mut();
        if only_worms {
            builder.add_systems(SimStage::Attack, worm::worm_spread);
            return Ok(());
        }
        let impact =
            chain::ImpactCounters::register(scenario, &mut world.resource_mut::<Metrics>());
        world.insert_resource(impact);
        let topology = world.resource::<Topology>();
        let targeted = targeted::TargetedCampaigns::new(scenario, topology)?;
        let botnets = botnet::Botnets::new(scenario, topology);
        world.insert_resource(targeted);
        world.insert_resource(Egress::default());
        world.insert_resource(botnets);
        world.insert_resource(identity::IdentityCampaigns::new(scenario));
        // Egress is the tick's scratch: the targeted stage clears it before writing.
        builder
            .rebuilt::<chain::ImpactCounters>()
            .rebuilt::<Egress>()
            .persist::<targeted::TargetedCampaigns>()
            .persist::<botnet::Botnets>()
            .persist::<identity::IdentityCampaigns>();
        let needs_ledger = scenario.campaigns.iter().any(|c| {
            matches!(
                c.kind,
                CampaignKind::AssetTheft { .. }
                    | CampaignKind::Phishing { .. }
                    | CampaignKind::Takeover(_)
            )
        });
        if needs_ledger {
            builder
                .world_mut()
                .insert_resource(ledger::Ledger::new(scenario.node_count));
            builder.persist::<ledger::Ledger>();
        }
        builder.add_systems(
            SimStage::Attack,
            (
                worm::worm_spread,
                botnet::botnet_ddos,
                targeted::targeted_step,
                identity::identity_step,
                botnet::count_service_down,
            )
                .chain(),
        );
        Ok(())
    }
}

#[cfg(test)]
mod campaign_tests;
#[cfg(test)]
mod tests;
