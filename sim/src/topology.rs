//! The network graph: nodes and links, built by generators from the scenario.
//!
//! Node `i` of the graph is node id `i` of the world (ids are assigned group by group), so
//! no map between the two is needed. Generators are deterministic functions of the
//! scenario and its seed. The graph is one compressed adjacency (CSR): a worm picking a
//! random neighbour needs `neighbours(n)[k]` in O(1), and routing walks the same slices;
//! each link keeps its two ends and its tier. (It was also held as a petgraph `UnGraph`,
//! used for nothing but a link's ends and the counts: 49 bytes per terminal of the 1M
//! city, a sixth of the world, for a second copy of the same adjacency.)

use bevy_ecs::resource::Resource;

use crate::rng::{Chance, SimRng, Stream};
use crate::scenario::{DegreeSequence, LinkTierId, Scenario, TopologyStep};

/// The built network.
#[derive(Resource, Debug, Clone)]
pub struct Topology {
    /// Where each node's adjacency entries start (node count + 1 entries).
    offsets: Vec<u32>,
    /// The neighbour of each adjacency entry.
    targets: Vec<u32>,
    /// Link id of each adjacency entry (parallel to `targets`).
    links: Vec<u32>,
    /// The two ends of each link, by link id, lower id first as built.
    ends: Vec<[u32; 2]>,
    /// Link tier of each link, by link id (an index into [`Scenario::links`]).
    tiers: Vec<LinkTierId>,
}

const BA: Stream = Stream::named("topology.barabasi_albert");
const ER: Stream = Stream::named("topology.erdos_renyi");
const WS: Stream = Stream::named("topology.watts_strogatz");
const CONFIGURATION: Stream = Stream::named("topology.configuration");

impl Topology {
    /// Builds the topology of a scenario.
    pub fn build(scenario: &Scenario, rng: &SimRng) -> Self {
        let n = scenario.node_count as usize;
        let mut edges: Vec<(u32, u32, LinkTierId)> = Vec::new();
        for (step_index, step) in scenario.topology.iter().enumerate() {
            step_edges(scenario, rng, step_index, step, &mut edges);
        }
        let (offsets, targets, links) = csr(n, &edges);
        Self {
            offsets,
            targets,
            links,
            ends: edges.iter().map(|&(a, b, _)| [a, b]).collect(),
            tiers: edges.iter().map(|e| e.2).collect(),
        }
    }

    /// The neighbours of a node, in a stable order.
    #[inline]
    pub fn neighbours(&self, node: u32) -> &[u32] {
        let i = node as usize;
        &self.targets[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// The links to the neighbours, parallel to [`Self::neighbours`].
    #[inline]
    pub fn neighbour_links(&self, node: u32) -> &[u32] {
        let i = node as usize;
        &self.links[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// The two ends of a link, lower id first as built.
    #[inline]
    pub fn endpoints(&self, link: u32) -> (u32, u32) {
        let [a, b] = self.ends[link as usize];
        (a, b)
    }

    /// The tier of a link.
    #[inline]
    pub fn tier(&self, link: u32) -> LinkTierId {
        self.tiers[link as usize]
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Number of links.
    pub fn link_count(&self) -> usize {
        self.ends.len()
    }

    /// Bytes held by the adjacency and the links, for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        (self.offsets.len() + self.targets.len() + self.links.len()) * 4
            + self.ends.len() * std::mem::size_of::<[u32; 2]>()
            + self.tiers.len() * std::mem::size_of::<LinkTierId>()
    }
}

/// One `[[topology]]` step's links, pushed as (node, node, tier); random generators draw
/// from their own stream per step.
fn step_edges(
    scenario: &Scenario,
    rng: &SimRng,
    step_index: usize,
    step: &TopologyStep,
    edges: &mut Vec<(u32, u32, LinkTierId)>,
) {
    // Long on purpose: one short arm per generator, side by side.
    let group = |g: u16| &scenario.groups[g as usize];
    match step {
        TopologyStep::AccessTree {
            children,
            parents,
            link,
        } => {
            let (c, p) = (group(*children), group(*parents));
            for i in 0..c.count {
                // Contiguous blocks: child i goes to parent floor(i * P / C).
                let parent = (u64::from(i) * u64::from(p.count) / u64::from(c.count)) as u32;
                edges.push((c.first_node + i, p.first_node + parent, *link));
            }
        }
        TopologyStep::EdgeAggregation {
            children,
            parents,
            uplinks,
            link,
        } => {
            let (c, p) = (group(*children), group(*parents));
            let stride = (p.count / uplinks).max(1);
            for i in 0..c.count {
                let home = (u64::from(i) * u64::from(p.count) / u64::from(c.count)) as u32;
                for k in 0..*uplinks {
                    let parent = (home + k * stride) % p.count;
                    edges.push((c.first_node + i, p.first_node + parent, *link));
                }
            }
        }
        TopologyStep::Mesh { groups, link } => {
            let members: Vec<u32> = groups.iter().flat_map(|&g| group(g).nodes()).collect();
            for (a, &x) in members.iter().enumerate() {
                for &y in &members[a + 1..] {
                    if x != y {
                        edges.push((x, y, *link));
                    }
                }
            }
        }
        TopologyStep::BarabasiAlbert { group: g, m, link } => {
            barabasi_albert(
                group(*g).first_node,
                group(*g).count,
                *m,
                *link,
                rng,
                BA.derive(step_index as u64),
                edges,
            );
        }
        TopologyStep::ErdosRenyi {
            group: g,
            links,
            link,
        } => {
            let (first, count) = (group(*g).first_node, group(*g).count);
            for (a, b) in erdos_renyi(count, *links, rng, ER.derive(step_index as u64)) {
                edges.push((first + a, first + b, *link));
            }
        }
        TopologyStep::Configuration {
            group: g,
            degrees,
            link,
        } => {
            let (first, count) = (group(*g).first_node, group(*g).count);
            let stream = CONFIGURATION.derive(step_index as u64);
            for (a, b) in configuration(count, degrees, rng, stream) {
                edges.push((first + a, first + b, *link));
            }
        }
        TopologyStep::EdgeList {
            group: g,
            links,
            link,
        } => {
            let first = group(*g).first_node;
            edges.extend(links.iter().map(|&(a, b)| (first + a, first + b, *link)));
        }
        TopologyStep::WattsStrogatz {
            group: g,
            k,
            p,
            link,
        } => {
            let (first, count) = (group(*g).first_node, group(*g).count);
            for (a, b) in watts_strogatz(count, *k, *p, rng, WS.derive(step_index as u64)) {
                edges.push((first + a, first + b, *link));
            }
        }
    }
}

type Csr = (Vec<u32>, Vec<u32>, Vec<u32>);

fn csr(n: usize, edges: &[(u32, u32, LinkTierId)]) -> Csr {
    let mut degree = vec![0u32; n + 1];
    for &(a, b, _) in edges {
        degree[a as usize] += 1;
        degree[b as usize] += 1;
    }
    let mut offsets = vec![0u32; n + 1];
    for i in 0..n {
        offsets[i + 1] = offsets[i] + degree[i];
    }
    let mut fill = offsets.clone();
    let mut targets = vec![0u32; offsets[n] as usize];
    let mut links = vec![0u32; offsets[n] as usize];
    for (id, &(a, b, _)) in edges.iter().enumerate() {
        targets[fill[a as usize] as usize] = b;
        links[fill[a as usize] as usize] = id as u32;
        fill[a as usize] += 1;
        targets[fill[b as usize] as usize] = a;
        links[fill[b as usize] as usize] = id as u32;
        fill[b as usize] += 1;
    }
    (offsets, targets, links)
}

/// Preferential attachment: node `k` (k > m) links to `m` distinct earlier nodes, each
/// picked with probability proportional to its degree, by sampling uniformly from the list
/// of link endpoints (every node appears once per link it has). The first `m + 1` nodes
/// start as a clique so every node has degree ≥ m.
fn barabasi_albert(
    first: u32,
    count: u32,
    m: u32,
    link: LinkTierId,
    rng: &SimRng,
    stream: Stream,
    edges: &mut Vec<(u32, u32, LinkTierId)>,
) {
    let m = m.min(count.saturating_sub(1));
    let seed_nodes = (m + 1).min(count);
    let mut endpoints: Vec<u32> = Vec::with_capacity((2 * m * count) as usize);
    for a in 0..seed_nodes {
        for b in a + 1..seed_nodes {
            edges.push((first + a, first + b, link));
            endpoints.push(a);
            endpoints.push(b);
        }
    }
    let mut chosen: Vec<u32> = Vec::with_capacity(m as usize);
    for k in seed_nodes..count {
        chosen.clear();
        let mut attempt = 0u32;
        while (chosen.len() as u32) < m {
            let pick = rng.below(stream, k, 0, attempt, endpoints.len() as u64) as usize;
            attempt += 1;
            let target = endpoints[pick];
            if !chosen.contains(&target) {
                chosen.push(target);
            }
        }
        for &t in &chosen {
            edges.push((first + k, first + t, link));
            endpoints.push(k);
            endpoints.push(t);
        }
    }
}

/// Erdős–Rényi G(n, m): `links` distinct pairs of distinct nodes among `count`, each
/// pair drawn uniformly (draw `j` keyed by its index; a self-loop or a pair already
/// drawn is skipped). Validation keeps `links` at most half of all pairs, so fewer than
/// `2 × links` draws are expected.
fn erdos_renyi(count: u32, links: u64, rng: &SimRng, stream: Stream) -> Vec<(u32, u32)> {
    let n = u64::from(count);
    let links = links.min(n * n.saturating_sub(1) / 2);
    let mut seen = std::collections::HashSet::with_capacity(links as usize);
    let mut out = Vec::with_capacity(links as usize);
    let mut j = 0u32;
    let mut round = 0u32;
    while (out.len() as u64) < links {
        let a = rng.below(stream, j, round, 0, n) as u32;
        let b = rng.below(stream, j, round, 1, n) as u32;
        (j, round) = match j.checked_add(1) {
            Some(next) => (next, round),
            None => (0, round + 1),
        };
        let pair = (a.min(b), a.max(b));
        if a != b && seen.insert(pair) {
            out.push(pair);
        }
    }
    out
}

/// Watts–Strogatz: a ring where node `i` links to `i + 1 ..= i + k/2`; each of those links
/// keeps `i` and, with chance `p`, moves its far end to a uniform node that is neither `i`
/// nor already linked to it (up to 64 draws; else it stays).
fn watts_strogatz(count: u32, k: u32, p: Chance, rng: &SimRng, stream: Stream) -> Vec<(u32, u32)> {
    let n = u64::from(count);
    let key = |a: u32, b: u32| (a.min(b), a.max(b));
    let mut ring = Vec::with_capacity((n * u64::from(k / 2)) as usize);
    for i in 0..count {
        for j in 1..=k / 2 {
            ring.push((i, ((u64::from(i) + u64::from(j)) % n) as u32));
        }
    }
    let mut present: std::collections::HashSet<(u32, u32)> =
        ring.iter().map(|&(a, b)| key(a, b)).collect();
    for (e, edge) in ring.iter_mut().enumerate() {
        let (i, old) = *edge;
        let e = e as u32;
        if !p.hit(rng.draw(stream, e, 0, 0)) {
            continue;
        }
        for attempt in 1..=64 {
            let t = rng.below(stream, e, attempt, 0, n) as u32;
            if t != i && !present.contains(&key(i, t)) {
                present.remove(&key(i, old));
                present.insert(key(i, t));
                *edge = (i, t);
                break;
            }
        }
    }
    ring
}

/// The erased configuration model: node `i` gets its degree (a bounded power law drawn
/// by inverting its continuous CDF from `min − ½` to `max + ½` and rounding, or the given
/// list), every node contributes that many link ends, the ends are shuffled (Fisher–Yates,
/// draw `j` keyed by its position) and paired in order; self-links and repeated pairs are
/// dropped, as is one end if their number is odd. Links come out sorted.
fn configuration(
    count: u32,
    degrees: &DegreeSequence,
    rng: &SimRng,
    stream: Stream,
) -> Vec<(u32, u32)> {
    use crate::math::{dexp, dln};
    let degree: Box<dyn Fn(u32) -> u32 + '_> = match degrees {
        DegreeSequence::Given(given) => Box::new(move |i| given[i as usize % given.len()]),
        &DegreeSequence::PowerLaw { exponent, min, max } => {
            let pow = |x: f64, y: f64| dexp(y * dln(x));
            // The CDF's ends, the same for every node: (min − ½)^−α and (max + ½)^−α.
            let alpha = exponent - 1.0;
            let fa = pow(f64::from(min) - 0.5, -alpha);
            let fb = pow(f64::from(max) + 0.5, -alpha);
            Box::new(move |i| {
                let u = rng.uniform(stream, i, 0, 0);
                let x = pow(fa - u * (fa - fb), -1.0 / alpha);
                (x.round() as u32).clamp(min, max)
            })
        }
    };
    let mut ends: Vec<u32> = Vec::new();
    for i in 0..count {
        ends.extend(std::iter::repeat_n(i, degree(i) as usize));
    }
    if ends.len() % 2 == 1 {
        ends.pop();
    }
    for j in (1..ends.len()).rev() {
        let key = (j as u64 & 0xFFFF_FFFF) as u32;
        let round = 1 + (j as u64 >> 32) as u32;
        let k = rng.below(stream, key, round, 0, j as u64 + 1) as usize;
        ends.swap(j, k);
    }
    let mut links: Vec<(u32, u32)> = ends
        .chunks_exact(2)
        .filter(|p| p[0] != p[1])
        .map(|p| (p[0].min(p[1]), p[0].max(p[1])))
        .collect();
    links.sort_unstable();
    links.dedup();
    links
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(topology: &str) -> Scenario {
        let text = format!(
            r#"
[general]
name = "topo"
seed = 1
tick = "1 s"
stop = "10 s"
[[zone]]
name = "z"
[[link]]
name = "l"
capacity = "1 Gbit/s"
latency = "1 ms"
[[group]]
name = "terminals"
kind = "phone"
count = 1000
zone = "z"
[[group]]
name = "edge"
kind = "edge_server"
count = 10
zone = "z"
[[group]]
name = "core"
kind = "cloud_vm"
count = 4
zone = "z"
{topology}
"#
        );
        Scenario::from_toml_str(&text, "topo.toml").unwrap()
    }

    #[test]
    fn access_tree_gives_every_child_one_parent_in_blocks() {
        let s = scenario(
            "[[topology]]\ngenerator = \"access_tree\"\nchildren = \"terminals\"\nparents = \"edge\"\nlink = \"l\"",
        );
        let t = Topology::build(&s, &SimRng::new(1));
        assert_eq!(t.link_count(), 1000);
        for child in 0..1000u32 {
            assert_eq!(t.neighbours(child), &[1000 + child / 100]);
        }
        assert_eq!(t.neighbours(1000).len(), 100);
    }

    #[test]
    fn edge_aggregation_multi_homes_to_distinct_parents() {
        let s = scenario(
            "[[topology]]\ngenerator = \"edge_aggregation\"\nchildren = \"edge\"\nparents = \"core\"\nuplinks = 2\nlink = \"l\"",
        );
        let t = Topology::build(&s, &SimRng::new(1));
        assert_eq!(t.link_count(), 20);
        for e in 1000..1010u32 {
            let n = t.neighbours(e);
            assert_eq!(n.len(), 2);
            assert_ne!(n[0], n[1]);
        }
    }

    #[test]
    fn mesh_links_every_pair() {
        let s = scenario(
            "[[topology]]\ngenerator = \"mesh\"\ngroups = [\"edge\", \"core\"]\nlink = \"l\"",
        );
        let t = Topology::build(&s, &SimRng::new(1));
        assert_eq!(t.link_count(), 14 * 13 / 2);
    }

    #[test]
    fn barabasi_albert_is_scale_free_and_deterministic() {
        let s = scenario(
            "[[topology]]\ngenerator = \"barabasi_albert\"\ngroup = \"terminals\"\nm = 2\nlink = \"l\"",
        );
        let a = Topology::build(&s, &SimRng::new(5));
        let b = Topology::build(&s, &SimRng::new(5));
        assert_eq!(a.targets, b.targets);
        // m(m+1)/2 seed links, then m per further node.
        assert_eq!(a.link_count(), 3 + 2 * (1000 - 3));
        let degrees: Vec<usize> = (0..1000).map(|n| a.neighbours(n).len()).collect();
        assert!(degrees.iter().all(|&d| d >= 2));
        // Heavy tail: hubs far above the mean degree of ~4.
        assert!(
            *degrees.iter().max().unwrap() >= 30,
            "max degree {:?}",
            degrees.iter().max()
        );
        let c = Topology::build(&s, &SimRng::new(6));
        assert_ne!(a.targets, c.targets, "another seed gives another graph");
    }

    /// Every link joins two distinct nodes, and no pair twice.
    fn simple(t: &Topology, n: u32) -> bool {
        let mut pairs = std::collections::HashSet::new();
        (0..n).all(|a| {
            t.neighbours(a)
                .iter()
                .all(|&b| a != b && (a > b || pairs.insert((a, b))))
        })
    }

    #[test]
    fn erdos_renyi_has_its_links_and_poisson_degrees() {
        let s = scenario(
            "[[topology]]\ngenerator = \"erdos_renyi\"\ngroup = \"terminals\"\nmean_degree = 6\nlink = \"l\"",
        );
        let a = Topology::build(&s, &SimRng::new(5));
        assert_eq!(a.link_count(), 3000, "mean degree 6 over 1,000 nodes");
        assert!(simple(&a, 1000));
        assert_eq!(a.targets, Topology::build(&s, &SimRng::new(5)).targets);
        assert_ne!(a.targets, Topology::build(&s, &SimRng::new(6)).targets);
        // Poisson(6): variance ≈ mean, no hubs (P(degree ≥ 25) is about 10^-8).
        let d: Vec<f64> = (0..1000).map(|n| a.neighbours(n).len() as f64).collect();
        let mean = d.iter().sum::<f64>() / 1000.0;
        let var = d.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / 999.0;
        assert!((mean - 6.0).abs() < 1e-9, "{mean}");
        assert!((4.5..7.5).contains(&var), "variance {var}");
        assert!(d.iter().all(|&x| x < 25.0));
    }

    #[test]
    fn configuration_with_given_degrees_keeps_them_but_for_erased_pairs() {
        let s = scenario(
            "[[topology]]\ngenerator = \"configuration\"\ngroup = \"terminals\"\ndegrees = [3, 3, 3, 3, 3, 3, 3, 27]\nlink = \"l\"",
        );
        let t = Topology::build(&s, &SimRng::new(2));
        assert!(simple(&t, 1000));
        // 7 × 3 + 27 ends per 8 nodes: 6,000 ends, 3,000 pairs before erasure.
        let links = t.link_count();
        assert!((2_850..=3_000).contains(&links), "{links} links");
        for n in 0..1000u32 {
            let want = if n % 8 == 7 { 27 } else { 3 };
            let got = t.neighbours(n).len();
            assert!(
                got <= want && got + want / 4 + 1 >= want,
                "node {n}: degree {got} of {want}"
            );
        }
        assert_eq!(t.targets, Topology::build(&s, &SimRng::new(2)).targets);
        assert_ne!(t.targets, Topology::build(&s, &SimRng::new(3)).targets);
    }

    #[test]
    fn configuration_power_law_has_the_exponents_tail() {
        let s = scenario(
            "[[topology]]\ngenerator = \"configuration\"\ngroup = \"terminals\"\nexponent = 2.5\nmin_degree = 2\nmax_degree = 200\nlink = \"l\"",
        );
        let t = Topology::build(&s, &SimRng::new(1));
        assert!(simple(&t, 1000));
        let d: Vec<usize> = (0..1000).map(|n| t.neighbours(n).len()).collect();
        // P(k ≥ 2) = 1 before erasure; for γ = 2.5 about (k/1.5)^-1.5 of nodes reach k:
        // ~19 % at 5, ~2.3 % at 20.
        let share = |k: usize| d.iter().filter(|&&x| x >= k).count() as f64 / 1000.0;
        assert!((0.12..0.27).contains(&share(5)), "P(k ≥ 5) = {}", share(5));
        assert!(
            (0.01..0.045).contains(&share(20)),
            "P(k ≥ 20) = {}",
            share(20)
        );
        assert!(
            *d.iter().max().unwrap() >= 40,
            "a hub: {:?}",
            d.iter().max()
        );
    }

    #[test]
    fn watts_strogatz_is_a_ring_rewired_with_chance_p() {
        let ring = |p: &str| {
            scenario(&format!(
                "[[topology]]\ngenerator = \"watts_strogatz\"\ngroup = \"terminals\"\nk = 4\np = {p}\nlink = \"l\""
            ))
        };
        // p = 0: the ring lattice, each node linked to its 2 neighbours on each side.
        let t = Topology::build(&ring("0.0"), &SimRng::new(1));
        assert_eq!(t.link_count(), 2000);
        let mut n0 = t.neighbours(0).to_vec();
        n0.sort_unstable();
        assert_eq!(n0, [1, 2, 998, 999]);
        // p = 0.2: the same number of links, about a fifth of them moved.
        let r = Topology::build(&ring("0.2"), &SimRng::new(1));
        assert_eq!(r.link_count(), 2000);
        assert!(simple(&r, 1000));
        let moved = (0..1000u32)
            .flat_map(|a| r.neighbours(a).iter().map(move |&b| (a, b)))
            .filter(|&(a, b)| {
                a < b && {
                    let gap = (b - a).min(1000 - (b - a));
                    gap > 2
                }
            })
            .count();
        assert!(
            (300..500).contains(&moved),
            "{moved} of 2,000 links rewired"
        );
        assert_eq!(
            r.targets,
            Topology::build(&ring("0.2"), &SimRng::new(1)).targets
        );
    }
}
