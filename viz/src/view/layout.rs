//! Where each node sits: a deterministic layout that reads as the network's tiers.
//!
//! Tiers are concentric rings: terminals outermost, then gateways and edge servers, then
//! cloud and GPU nodes, and the trust services (identity, data, ledger, wallets, SOC) at
//! the centre, the way traffic flows inward. Within a ring each group gets an angular
//! sector proportional to its size (groups of one zone side by side, zones in scenario
//! order), and its nodes fill the sector: along the ring's middle while they fit, else
//! the whole annulus on a low-discrepancy pattern (golden-ratio radii), so a million
//! terminals spread evenly. Everything is a pure function of the scenario: the same node
//! is at the same place in every run, window and PNG.

use paraverse_sim::scenario::{NodeKind, Scenario};
use paraverse_sim::topology::Topology;
use paraverse_sim::universe::Universe;

/// A ring's inner and outer radius (world units; the layout fits the unit disc).
const RINGS: [(f32, f32); 4] = [(0.70, 1.0), (0.50, 0.62), (0.30, 0.42), (0.06, 0.22)];
/// Share of each ring left as gaps between groups.
const GAP_SHARE: f32 = 0.08;

/// The ring of a node kind: 0 terminals ... 3 trust services.
pub fn tier(kind: NodeKind) -> usize {
    match kind {
        k if k.is_terminal() => 0,
        NodeKind::Gateway | NodeKind::EdgeServer => 1,
        NodeKind::CloudVm | NodeKind::GpuNode | NodeKind::Server | NodeKind::FileServer => 2,
        _ => 3,
    }
}

/// Node positions and link endpoints.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Position of each node, world units (x right, y up), inside the unit disc.
    pub positions: Vec<[f32; 2]>,
    /// Each link's two nodes.
    pub links: Vec<(u32, u32)>,
    /// A node's drawn radius in world units, per node (by its ring's density).
    pub radius: Vec<f32>,
}

impl Layout {
    /// Lays out a universe's nodes and the links of its topology (reads it only).
    pub fn of_universe(u: &Universe) -> Self {
        let topo = u.world().resource::<Topology>();
        let links = (0..topo.link_count() as u32)
            .map(|l| topo.endpoints(l))
            .collect();
        Self::new(u.scenario(), links)
    }

    /// Lays out a scenario's nodes; `links` are the topology's endpoints.
    pub fn new(scenario: &Scenario, links: Vec<(u32, u32)>) -> Self {
        let n = scenario.node_count as usize;
        let mut positions = vec![[0.0f32; 2]; n];
        let mut radius = vec![0.0f32; n];
        // Groups per ring, ordered by zone then declaration.
        let mut rings: [Vec<usize>; 4] = Default::default();
        let mut order: Vec<usize> = (0..scenario.groups.len()).collect();
        order.sort_by_key(|&g| (scenario.groups[g].zone, g));
        for g in order {
            rings[tier(scenario.groups[g].kind)].push(g);
        }
        for (r, groups) in rings.iter().enumerate() {
            let total: u64 = groups
                .iter()
                .map(|&g| u64::from(scenario.groups[g].count))
                .sum();
            if total == 0 {
                continue;
            }
            let (r0, r1) = RINGS[r];
            let mid = 0.5 * (r0 + r1);
            let tau = std::f32::consts::TAU;
            let gap = if groups.len() > 1 {
                tau * GAP_SHARE / groups.len() as f32
            } else {
                0.0
            };
            let usable = tau - gap * groups.len() as f32;
            // Area per node decides the drawn radius: discs cover about a third of it.
            let area = std::f32::consts::PI * (r1 * r1 - r0 * r0) * (usable / tau);
            let per_node = area / total as f32;
            let node_r = (per_node / std::f32::consts::PI).sqrt() * 0.6;
            // Start at the top, go clockwise.
            let mut angle = std::f32::consts::FRAC_PI_2 + gap / 2.0;
            for &g in groups {
                let group = &scenario.groups[g];
                let sweep = usable * group.count as f32 / total as f32;
                // Nodes that fit on the middle arc at two radii apart stay on it.
                let arc = sweep * mid;
                let on_arc = (group.count as f32) * node_r * 3.0 <= arc;
                for k in 0..group.count {
                    let id = (group.first_node + k) as usize;
                    let t = (k as f32 + 0.5) / group.count as f32;
                    let a = angle + t * sweep;
                    let rad = if on_arc || group.count == 1 {
                        mid
                    } else {
                        // Golden-ratio sequence: even radial spread without clumps.
                        let u = (k as f64 * 0.618_033_988_749_894_9).fract() as f32;
                        r0 + (r1 - r0) * (0.05 + 0.9 * u)
                    };
                    positions[id] = [rad * a.cos(), rad * a.sin()];
                    radius[id] = node_r.min(0.03);
                }
                angle += sweep + gap;
            }
        }
        let mut layout = Layout {
            positions,
            links,
            radius,
        };
        layout.align_inner_rings(scenario);
        layout
    }

    /// Turns each inner ring so its nodes face the outer nodes they serve: a node's
    /// target angle is the mean direction of its neighbours further out, the ring's
    /// nodes keep even spacing in the order of their targets, and the ring is rotated to
    /// sit closest to them. Access links then run outward instead of across the disc.
    #[allow(
        clippy::disallowed_methods,
        reason = "drawing only: a last-bit difference moves a pixel, never a result"
    )]
    fn align_inner_rings(&mut self, scenario: &Scenario) {
        let n = self.positions.len();
        let mut tier_of = vec![0u8; n];
        for g in &scenario.groups {
            let t = tier(g.kind) as u8;
            for k in 0..g.count {
                tier_of[(g.first_node + k) as usize] = t;
            }
        }
        let mut pull = vec![[0.0f64; 2]; n];
        for t in 1..RINGS.len() as u8 {
            for &(a, b) in &self.links {
                let (a, b) = (a as usize, b as usize);
                for (inner, outer) in [(a, b), (b, a)] {
                    if tier_of[inner] == t && tier_of[outer] < t {
                        let p = self.positions[outer];
                        let r = f64::from(p[0].hypot(p[1])).max(1e-9);
                        pull[inner][0] += f64::from(p[0]) / r;
                        pull[inner][1] += f64::from(p[1]) / r;
                    }
                }
            }
            let mut ring: Vec<(f64, usize)> = (0..n)
                .filter(|&i| tier_of[i] == t)
                .map(|i| {
                    let p = self.positions[i];
                    let own = f64::from(p[1]).atan2(f64::from(p[0]));
                    let target = if pull[i] == [0.0, 0.0] {
                        own
                    } else {
                        pull[i][1].atan2(pull[i][0])
                    };
                    (target, i)
                })
                .collect();
            if ring.len() < 2 {
                continue;
            }
            ring.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
            let tau = std::f64::consts::TAU;
            let step = tau / ring.len() as f64;
            // Rotation that best matches the slots to the targets (circular mean).
            let (mut s, mut c) = (0.0, 0.0);
            for (k, &(target, _)) in ring.iter().enumerate() {
                let d = target - k as f64 * step;
                s += d.sin();
                c += d.cos();
            }
            let offset = s.atan2(c);
            for (k, &(_, i)) in ring.iter().enumerate() {
                let p = self.positions[i];
                let r = f64::from(p[0].hypot(p[1]));
                let a = offset + k as f64 * step;
                self.positions[i] = [(r * a.cos()) as f32, (r * a.sin()) as f32];
            }
        }
    }

    /// The node nearest a world position within `max_dist`, if any.
    pub fn nearest(&self, at: [f32; 2], max_dist: f32) -> Option<u32> {
        let mut best = None;
        let mut best_d = max_dist * max_dist;
        for (i, p) in self.positions.iter().enumerate() {
            let d = (p[0] - at[0]).powi(2) + (p[1] - at[1]).powi(2);
            if d <= best_d {
                best_d = d;
                best = Some(i as u32);
            }
        }
        best
    }
}
