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
//!
//! Routing every flow of the 1M city is most of the time it takes to build (four
//! Dijkstras over a million nodes, then 224,254 walks), so both are lean: Dijkstra keeps its
//! frontier in a radix heap (distances are integers that only grow as nodes settle), and
//! walking many flows down one field first tabulates the next hops of its hubs
//! ([`NextHops`]: gateways, servers) instead of scanning a gateway's hundred neighbours once
//! per flow that crosses it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rayon::prelude::*;

use crate::rng::mix64;
use crate::topology::Topology;

/// Distance of an unreachable node.
pub const UNREACHABLE: u64 = u64::MAX;

/// The network as routing sees it: links with latencies, and nodes that are down.
#[derive(Clone, Copy)]
pub struct Router<'a> {
    /// The topology.
    pub topology: &'a Topology,
    /// Latency per link, µs: at least 1 (the traffic core makes them so), so every step
    /// of a walk goes to a strictly nearer node and a walk ends.
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
    /// the full field: each step goes to a strictly nearer node (latencies are at least
    /// 1 µs), which is settled, and a node left unsettled is farther
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
        walk_with(dist, start, nodes, links, |v| {
            pick(self.ties(dist, v), v, key)
        })
    }

    /// The next hops from `v` on the field `dist`: its up neighbours on a shortest path to
    /// the sources, as (neighbour, link) in the topology's neighbour order.
    fn ties<'d>(&'d self, dist: &'d [u64], v: u32) -> impl Iterator<Item = (u32, u32)> + Clone {
        let (topology, latency_us, down) = (self.topology, self.latency_us, self.down);
        let dv = dist[v as usize];
        topology
            .neighbours(v)
            .iter()
            .zip(topology.neighbour_links(v))
            // Nearer first: most neighbours are not (a gateway's terminals), and then the
            // latency is never read. Latencies are at least 1, so a tie is nearer and
            // reachable.
            .filter(move |&(&u, &l)| {
                dist[u as usize] < dv
                    && dist[u as usize] + latency_us[l as usize] == dv
                    && !down[u as usize]
            })
            .map(|(&u, &l)| (u, l))
    }

    /// The next hops of every hub (a node with at least [`HUB_DEGREE`] neighbours: a
    /// gateway, a server) on the field `dist`, tabulated once (in parallel) for many walks
    /// down the same field ([`Router::walk_next_hops`]). Other nodes are read as a walk
    /// reaches them: a terminal starts one walk of its own and has a neighbour or two.
    pub fn next_hops(&self, dist: &[u64]) -> NextHops {
        const NODES_PER_TASK: usize = 16_384;
        let topology = self.topology;
        let n = topology.node_count();
        // Each task's part: the end of each of its nodes' hops in its own `hops`.
        let parts: Vec<NextHops> = (0..n.div_ceil(NODES_PER_TASK))
            .into_par_iter()
            .map(|task| {
                let range = task * NODES_PER_TASK..((task + 1) * NODES_PER_TASK).min(n);
                let mut ends = Vec::with_capacity(range.len());
                let mut hops = Vec::new();
                for v in range {
                    if dist[v] != UNREACHABLE
                        && dist[v] > 0
                        && topology.neighbours(v as u32).len() >= HUB_DEGREE
                    {
                        hops.extend(self.ties(dist, v as u32));
                    }
                    ends.push(hops.len() as u32);
                }
                NextHops {
                    offsets: ends,
                    hops,
                }
            })
            .collect();
        let total: usize = parts.iter().map(|part| part.hops.len()).sum();
        let mut offsets = Vec::with_capacity(n + 1);
        let mut hops = Vec::with_capacity(total);
        offsets.push(0u32);
        for part in parts {
            let base = hops.len() as u32;
            offsets.extend(part.offsets.iter().map(|&e| base + e));
            hops.extend(part.hops);
        }
        NextHops { offsets, hops }
    }

    /// [`Router::walk`] on a field whose next hops are tabulated: the same nodes, links and
    /// tie-breaks (tested), without reading every neighbour at each step.
    pub fn walk_next_hops(
        &self,
        next: &NextHops,
        dist: &[u64],
        start: u32,
        key: u64,
        nodes: &mut Vec<u32>,
        links: &mut Vec<u32>,
    ) -> Option<u32> {
        walk_with(dist, start, nodes, links, |v| {
            let i = v as usize;
            if self.topology.neighbours(v).len() >= HUB_DEGREE {
                let table = &next.hops[next.offsets[i] as usize..next.offsets[i + 1] as usize];
                pick(table.iter().copied(), v, key)
            } else {
                pick(self.ties(dist, v), v, key)
            }
        })
    }
}

/// Nodes with at least this many neighbours have their next hops tabulated by
/// [`Router::next_hops`].
pub const HUB_DEGREE: usize = 8;

/// The hubs' next hops towards the sources on one distance field, in the topology's
/// neighbour order: [`Router::next_hops`].
pub struct NextHops {
    /// Where each node's next hops start in `hops` (empty for nodes that are not hubs).
    offsets: Vec<u32>,
    hops: Vec<(u32, u32)>,
}

/// The walk of [`Router::walk`], with the step from a node chosen by `step`.
fn walk_with(
    dist: &[u64],
    start: u32,
    nodes: &mut Vec<u32>,
    links: &mut Vec<u32>,
    mut step: impl FnMut(u32) -> Option<(u32, u32)>,
) -> Option<u32> {
    let mut v = start;
    if dist[v as usize] == UNREACHABLE {
        return None;
    }
    while dist[v as usize] > 0 {
        let (u, l) = step(v)?;
        nodes.push(u);
        links.push(l);
        v = u;
    }
    Some(v)
}

/// The step from `v` among its next hops `ties` (neighbour, link): where several tie, the
/// flow's key picks one, the same one whoever lists them in the same order.
fn pick(ties: impl Iterator<Item = (u32, u32)> + Clone, v: u32, key: u64) -> Option<(u32, u32)> {
    let count = ties.clone().count() as u64;
    let pick = if count > 1 {
        mix64(key ^ u64::from(v).rotate_left(32)) % count
    } else {
        0
    };
    ties.clone().nth(pick as usize)
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
        let mut heap = RadixHeap::default();
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
                heap.push(best, v);
            }
        }
        // 3. Dijkstra from the seeds.
        while let Some((d, v)) = heap.pop() {
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
                    heap.push(nd, u);
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
    let mut heap = RadixHeap::default();
    for &s in sources {
        if !down[s as usize] && dist[s as usize] != 0 {
            dist[s as usize] = 0;
            heap.push(0, s);
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
    while let Some((d, v)) = heap.pop() {
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
            // A neighbour already as near (settled, mostly) is not read further.
            let du = dist[u as usize];
            if du <= d {
                continue;
            }
            let nd = d + latency_us[l as usize];
            if nd < du && !down[u as usize] {
                dist[u as usize] = nd;
                heap.push(nd, u);
            }
        }
    }
    dist
}

/// Dijkstra's frontier: a radix heap (Ahuja, Mehlhorn, Orlin and Tarjan, 1990), a
/// priority queue for integer keys that never fall below the last key popped, which
/// Dijkstra's distances never do. Entries sit in buckets by the highest bit in which
/// their key differs from the last key popped; popping empties the lowest non-empty
/// bucket into lower ones around its smallest key, so each entry moves at most once per
/// bit of the latencies (about 17 for a path of 70 ms in µs) against a binary heap's
/// ~20 cache-missing levels per pop at a million entries. Entries with equal keys pop
/// in no particular order: a distance field does not depend on it.
struct RadixHeap {
    /// The last key popped (0 before the first pop): every key pushed is at least this.
    last: u64,
    /// Bucket `b` holds the keys whose highest bit differing from `last` is bit `b - 1`
    /// (bucket 0: keys equal to `last`).
    buckets: [Vec<(u64, u32)>; 65],
}

impl Default for RadixHeap {
    fn default() -> Self {
        Self {
            last: 0,
            buckets: std::array::from_fn(|_| Vec::new()),
        }
    }
}

impl RadixHeap {
    fn bucket(last: u64, key: u64) -> usize {
        (u64::BITS - (key ^ last).leading_zeros()) as usize
    }

    fn push(&mut self, key: u64, node: u32) {
        debug_assert!(
            key >= self.last,
            "radix heap: key {key} below {}",
            self.last
        );
        self.buckets[Self::bucket(self.last, key)].push((key, node));
    }

    fn pop(&mut self) -> Option<(u64, u32)> {
        if self.buckets[0].is_empty() {
            let b = self.buckets.iter().position(|b| !b.is_empty())?;
            let mut spill = std::mem::take(&mut self.buckets[b]);
            self.last = spill.iter().map(|&(key, _)| key).min()?;
            for &(key, node) in &spill {
                self.buckets[Self::bucket(self.last, key)].push((key, node));
            }
            spill.clear();
            self.buckets[b] = spill;
        }
        self.buckets[0].pop()
    }
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
