//! Routing: shortest paths by latency on the topology, with ECMP by a stable hash.
//!
//! Benign demand is anycast ("each headset streams from the nearest render node"), so one
//! multi-source Dijkstra from all servers of a group routes every client of that group at
//! once; attack flows to one victim share one Dijkstra from the victim. A path is read
//! off the distance field by walking from the far end towards the sources: at each node
//! the next hop is one of the neighbours on a shortest path, and where several tie (equal
//! integer latencies are exact ties) the flow's hash picks one, so flows spread over equal
//! paths (ECMP) and the same flow always takes the same one.
//!
//! Links are full duplex: link `l` carries two *channels*, `2l` from its lower-id end to
//! its higher-id end and `2l + 1` back, each with the tier's capacity. Paths are lists of
//! channels in the direction traffic flows.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::rng::mix64;
use crate::topology::Topology;

/// Distance of an unreachable node.
pub const UNREACHABLE: u64 = u64::MAX;

/// The network as routing sees it: links with latencies, and nodes that are down.
#[derive(Clone, Copy)]
pub struct Router<'a> {
    /// The topology.
    pub topology: &'a Topology,
    /// Latency per link, µs.
    pub latency_us: &'a [u64],
    /// Nodes that neither send, receive nor forward.
    pub down: &'a [bool],
}

impl Router<'_> {
    /// Shortest-path distances (µs of propagation delay) from the nearest of `sources`,
    /// never passing through a down node.
    pub fn distances(&self, sources: &[u32]) -> Vec<u64> {
        distances(self.topology, self.latency_us, self.down, sources, &[])
    }

    /// A distance field for walks from `starts` only: Dijkstra stops once every start is
    /// settled and so is every node as near the sources as the farthest start. A walk from
    /// a start ([`Router::walk`]) then takes exactly the steps, ties included, it takes on
    /// the full field: each step goes to a strictly nearer node (or an equally near one
    /// over a zero-latency link), which is settled, and a node left unsettled is farther
    /// than every step's node, so its provisional distance never makes a false tie.
    /// Routing a few added flows near their destination (a measured link's background
    /// flow crosses one link) no longer costs a Dijkstra over the whole network.
    pub fn distances_for(&self, sources: &[u32], starts: &[u32]) -> Vec<u64> {
        distances(self.topology, self.latency_us, self.down, sources, starts)
    }

    /// Walks from `start` down the distance field to a source. Appends the nodes visited
    /// after `start` to `nodes` and the links used to `links`; returns the source reached,
    /// or `None` if `start` is unreachable.
    pub fn walk(
        &self,
        dist: &[u64],
        start: u32,
        key: u64,
        nodes: &mut Vec<u32>,
        links: &mut Vec<u32>,
    ) -> Option<u32> {
        let (topology, latency_us, down) = (self.topology, self.latency_us, self.down);
        let mut v = start;
        if dist[v as usize] == UNREACHABLE {
            return None;
        }
        while dist[v as usize] > 0 {
            let dv = dist[v as usize];
            let ties = topology
                .neighbours(v)
                .iter()
                .zip(topology.neighbour_links(v))
                .filter(|&(&u, &l)| {
                    !down[u as usize]
                        && dist[u as usize] != UNREACHABLE
                        && dist[u as usize] + latency_us[l as usize] == dv
                });
            let count = ties.clone().count() as u64;
            let pick = if count > 1 {
                mix64(key ^ u64::from(v).rotate_left(32)) % count
            } else {
                0
            };
            let (&u, &l) = ties.clone().nth(pick as usize)?;
            nodes.push(u);
            links.push(l);
            v = u;
        }
        Some(v)
    }
}

impl Router<'_> {
    /// Brings `dist`, the distance field [`Router::distances`] gave from the sources
    /// (`is_source`) under other down flags, to the field it gives under `self.down`, where
    /// `toggled` lists the nodes whose flag differs. Distances are exact integers, so any
    /// correct shortest-path computation gives the same field; this one touches only the
    /// region that changed (Ramalingam and Reps' dynamic shortest paths): nodes that went
    /// down lose their distance, nodes left without a shortest-path parent are reset, and
    /// one Dijkstra from the reset nodes, the nodes that came up and their neighbours
    /// settles the rest. Returns every node whose distance changed with its old distance.
    pub fn update_distances(
        &self,
        dist: &mut [u64],
        toggled: &[u32],
        is_source: impl Fn(u32) -> bool,
    ) -> Vec<(u32, u64)> {
        let (topology, latency_us, down) = (self.topology, self.latency_us, self.down);
        let links = |v: u32| {
            topology.neighbours(v).iter().copied().zip(
                topology
                    .neighbour_links(v)
                    .iter()
                    .map(|&l| latency_us[l as usize]),
            )
        };
        let mut old: Vec<(u32, u64)> = Vec::new();
        let mut recorded = std::collections::HashSet::new();
        let mut record = |v: u32, d: u64, old: &mut Vec<(u32, u64)>| {
            if recorded.insert(v) {
                old.push((v, d));
            }
        };
        // 1. Nodes that went down lose their distance; a node whose every shortest-path
        // parent is down or affected is affected (decided in order of distance, so its
        // parents, all strictly nearer, are decided first).
        let mut heap = BinaryHeap::new();
        let push_children = |v: u32, d: u64, dist: &[u64], heap: &mut BinaryHeap<_>| {
            for (u, w) in links(v) {
                if !down[u as usize] && dist[u as usize] != UNREACHABLE && dist[u as usize] == d + w
                {
                    heap.push(Reverse((dist[u as usize], u)));
                }
            }
        };
        for &x in toggled {
            let d = dist[x as usize];
            if down[x as usize] && d != UNREACHABLE {
                record(x, d, &mut old);
                push_children(x, d, dist, &mut heap);
                dist[x as usize] = UNREACHABLE;
            }
        }
        let mut decided = std::collections::HashSet::new();
        let mut affected = Vec::new();
        let mut is_affected = std::collections::HashSet::new();
        while let Some(Reverse((d, v))) = heap.pop() {
            if !decided.insert(v) || is_source(v) {
                continue;
            }
            let parented = links(v).any(|(u, w)| {
                !down[u as usize]
                    && !is_affected.contains(&u)
                    && dist[u as usize] != UNREACHABLE
                    && dist[u as usize] + w == d
            });
            if !parented {
                is_affected.insert(v);
                affected.push(v);
                push_children(v, d, dist, &mut heap);
            }
        }
        for &v in &affected {
            record(v, dist[v as usize], &mut old);
            dist[v as usize] = UNREACHABLE;
        }
        // 2. Seeds: affected nodes and nodes that came up, from their neighbours' distances
        // (or 0 for a source).
        let mut heap = BinaryHeap::new();
        let came_up = toggled.iter().copied().filter(|&x| !down[x as usize]);
        for v in affected.iter().copied().chain(came_up) {
            let mut best = if is_source(v) { 0 } else { UNREACHABLE };
            for (u, w) in links(v) {
                if !down[u as usize] && dist[u as usize] != UNREACHABLE {
                    best = best.min(dist[u as usize] + w);
                }
            }
            if best < dist[v as usize] {
                record(v, dist[v as usize], &mut old);
                dist[v as usize] = best;
                heap.push(Reverse((best, v)));
            }
        }
        // 3. Dijkstra from the seeds.
        while let Some(Reverse((d, v))) = heap.pop() {
            if d > dist[v as usize] {
                continue;
            }
            for (u, w) in links(v) {
                if down[u as usize] {
                    continue;
                }
                let nd = d + w;
                if nd < dist[u as usize] {
                    record(u, dist[u as usize], &mut old);
                    dist[u as usize] = nd;
                    heap.push(Reverse((nd, u)));
                }
            }
        }
        old.retain(|&(v, d)| dist[v as usize] != d);
        old.sort_unstable();
        old
    }
}

/// Dijkstra from `sources`; with `starts`, it may stop early ([`Router::distances_for`]).
fn distances(
    topology: &Topology,
    latency_us: &[u64],
    down: &[bool],
    sources: &[u32],
    starts: &[u32],
) -> Vec<u64> {
    let mut dist = vec![UNREACHABLE; topology.node_count()];
    let mut heap = BinaryHeap::new();
    for &s in sources {
        if !down[s as usize] && dist[s as usize] != 0 {
            dist[s as usize] = 0;
            heap.push(Reverse((0u64, s)));
        }
    }
    // Starts not yet settled (none: run to the end), then the distance to settle up to.
    let mut waiting: Vec<bool> = Vec::new();
    let mut unsettled = 0usize;
    if !starts.is_empty() {
        waiting = vec![false; topology.node_count()];
        for &s in starts {
            if !std::mem::replace(&mut waiting[s as usize], true) {
                unsettled += 1;
            }
        }
    }
    let mut bound = None;
    while let Some(Reverse((d, v))) = heap.pop() {
        if d > dist[v as usize] {
            continue;
        }
        if bound.is_some_and(|b| d > b) {
            break;
        }
        if unsettled > 0 && std::mem::take(&mut waiting[v as usize]) {
            unsettled -= 1;
            if unsettled == 0 {
                bound = Some(d);
            }
        }
        for (&u, &l) in topology
            .neighbours(v)
            .iter()
            .zip(topology.neighbour_links(v))
        {
            if down[u as usize] {
                continue;
            }
            let nd = d + latency_us[l as usize];
            if nd < dist[u as usize] {
                dist[u as usize] = nd;
                heap.push(Reverse((nd, u)));
            }
        }
    }
    dist
}

/// The channel of link `l` when traffic goes from `from` to `to`.
#[inline]
pub fn channel(topology: &Topology, link: u32, from: u32) -> u32 {
    let (a, _) = topology.endpoints(link);
    2 * link + u32::from(from != a)
}

/// The (sending, receiving) nodes of a channel: the inverse of [`channel`].
#[inline]
pub fn ends(topology: &Topology, channel: u32) -> (u32, u32) {
    let (a, b) = topology.endpoints(channel / 2);
    if channel.is_multiple_of(2) {
        (a, b)
    } else {
        (b, a)
    }
}
