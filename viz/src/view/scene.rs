//! From a frame to GPU instances: one quad per node or link, with level of detail.
//!
//! Where visible nodes would be closer than a few pixels (a million terminals on one
//! screen) drawing each is both slow and meaningless, so they are aggregated into
//! 3-pixel cells, each drawn in the most severe state among its nodes (of the two quiet
//! states, healthy and patched, the majority): an infection stays visible at any zoom. Links shorter than a pixel, and at that level idle and
//! lightly loaded links, are skipped; loaded and attacked links are always drawn, on top.

use bytemuck::{Pod, Zeroable};
use rayon::prelude::*;

use super::camera::Camera;
use super::frame::{NetworkFrame, NodeState};
use super::layout::Layout;

/// Background colour.
pub const BACKGROUND: [u8; 4] = [12, 14, 20, 255];
/// Colour of links carrying attack traffic.
pub const ATTACK_LINK: [u8; 4] = [255, 0, 200, 255];
/// Cell size of aggregated nodes, pixels.
pub const CELL_PX: u32 = 3;
/// Pixels per visible node below which nodes are aggregated (a 6×6 square each).
const PIXELS_PER_NODE: u64 = 36;
/// At the aggregated level, links below this utilisation (permille) are not drawn.
const LOD_LINK_PERMILLE: u16 = 300;
/// Most quiet (idle or lightly loaded) links drawn; beyond, only loaded and attacked ones.
const MAX_QUIET_LINKS: usize = 20_000;

/// One node (or aggregated cell) to draw.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct NodeInstance {
    /// Centre, world units.
    pub pos: [f32; 2],
    /// Radius (half-size for squares), pixels.
    pub radius_px: f32,
    /// 0: disc, 1: square (an aggregated cell).
    pub shape: u32,
    /// Colour, RGBA.
    pub color: [u8; 4],
}

/// One link to draw.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct LinkInstance {
    /// One end, world units.
    pub a: [f32; 2],
    /// The other end.
    pub b: [f32; 2],
    /// Width, pixels.
    pub width_px: f32,
    /// Colour, RGBA.
    pub color: [u8; 4],
}

/// Everything to draw for one frame.
#[derive(Debug, Clone, Default)]
pub struct Scene {
    /// Links, in drawing order (idle first, attacked last).
    pub links: Vec<LinkInstance>,
    /// Nodes or cells, in drawing order (least severe first).
    pub nodes: Vec<NodeInstance>,
    /// Whether nodes were aggregated into cells.
    pub aggregated: bool,
    /// Nodes on screen.
    pub visible_nodes: u64,
    /// Text over the picture: title, legend, group labels ([`super::caption`]).
    pub labels: Vec<super::text::Label>,
    /// Translucent boxes drawn over the network and under the text (as thick links), so
    /// the title and legend read over busy parts of the picture.
    pub panels: Vec<LinkInstance>,
}

/// Colour of a link at `permille` utilisation: slate when idle, through blue, to white
/// when saturated.
pub fn link_color(permille: u16) -> [u8; 4] {
    let u = f32::from(permille.min(1000)) / 1000.0;
    let (from, to, t) = if u < 0.5 {
        ([55.0, 65.0, 80.0], [0.0, 170.0, 255.0], u / 0.5)
    } else {
        ([0.0, 170.0, 255.0], [255.0, 255.0, 255.0], (u - 0.5) / 0.5)
    };
    let c = |i: usize| (from[i] + (to[i] - from[i]) * t).round() as u8;
    [c(0), c(1), c(2), 255]
}

/// Width of a link at `permille` utilisation, pixels.
pub fn link_width(permille: u16, attack: bool) -> f32 {
    1.0 + 4.0 * f32::from(permille.min(1000)) / 1000.0 + if attack { 0.5 } else { 0.0 }
}

/// Builds the instances for a frame seen through a camera.
pub fn build(layout: &Layout, frame: &NetworkFrame, camera: &Camera) -> Scene {
    let (w, h) = (camera.size[0] as f32, camera.size[1] as f32);
    let scale = camera.scale();
    let on_screen =
        |p: [f32; 2], pad: f32| p[0] >= -pad && p[1] >= -pad && p[0] <= w + pad && p[1] <= h + pad;
    let state = |i: usize| frame.states.get(i).copied().unwrap_or(NodeState::Healthy);

    // Nodes.
    // Each stage is parallel over nodes or links; collecting keeps their order and the
    // cells' merge (max, sum) does not depend on the split, so any thread count draws the
    // same picture.
    let screen: Vec<[f32; 2]> = layout
        .positions
        .par_iter()
        .map(|&p| camera.to_screen(p))
        .collect();
    let visible: Vec<usize> = (0..screen.len())
        .into_par_iter()
        .filter(|&i| on_screen(screen[i], 8.0))
        .collect();
    let aggregated = visible.len() as u64 * PIXELS_PER_NODE
        > u64::from(camera.size[0]) * u64::from(camera.size[1]);
    let mut nodes = Vec::new();
    if aggregated {
        let gw = camera.size[0].div_ceil(CELL_PX) as usize;
        let gh = camera.size[1].div_ceil(CELL_PX) as usize;
        // Per cell: the most severe state, and healthy minus protected nodes (which of
        // the two quiet states is the majority, when nothing worse is there).
        let chunk = visible
            .len()
            .div_ceil(2 * rayon::current_num_threads())
            .max(4096);
        let (mut cells, quiet) = visible
            .par_chunks(chunk)
            .map(|part| {
                let mut cells = vec![u8::MAX; gw * gh];
                let mut quiet = vec![0i32; gw * gh];
                for &i in part {
                    let p = screen[i];
                    if p[0] < 0.0 || p[1] < 0.0 || p[0] >= w || p[1] >= h {
                        continue;
                    }
                    let (cx, cy) = (
                        p[0] as usize / CELL_PX as usize,
                        p[1] as usize / CELL_PX as usize,
                    );
                    let k = cy * gw + cx;
                    let s = state(i);
                    match s {
                        NodeState::Healthy => quiet[k] += 1,
                        NodeState::Protected => quiet[k] -= 1,
                        _ => {}
                    }
                    if cells[k] == u8::MAX || s as u8 > cells[k] {
                        cells[k] = s as u8;
                    }
                }
                (cells, quiet)
            })
            .reduce_with(|(mut c1, mut q1), (c2, q2)| {
                for k in 0..c1.len() {
                    if c1[k] == u8::MAX || (c2[k] != u8::MAX && c2[k] > c1[k]) {
                        c1[k] = c2[k];
                    }
                    q1[k] += q2[k];
                }
                (c1, q1)
            })
            .unwrap_or_else(|| (vec![u8::MAX; gw * gh], vec![0i32; gw * gh]));
        for (c, q) in cells.iter_mut().zip(&quiet) {
            if *c == NodeState::Protected as u8 && *q > 0 {
                *c = NodeState::Healthy as u8;
            }
        }
        let half = CELL_PX as f32 / 2.0;
        for s in NodeState::ALL {
            for (k, &c) in cells.iter().enumerate() {
                if c == s as u8 {
                    let (cx, cy) = ((k % gw) as f32, (k / gw) as f32);
                    let centre = [cx * CELL_PX as f32 + half, cy * CELL_PX as f32 + half];
                    nodes.push(NodeInstance {
                        pos: camera.to_world(centre),
                        radius_px: half,
                        shape: 1,
                        color: s.color(),
                    });
                }
            }
        }
    } else {
        let mut order = visible.clone();
        order.sort_by_key(|&i| (state(i), i));
        nodes.extend(order.into_iter().map(|i| NodeInstance {
            pos: layout.positions[i],
            radius_px: (layout.radius[i] * scale).clamp(2.0, 9.0),
            shape: 0,
            color: state(i).color(),
        }));
    }

    // Links.
    let mut links: Vec<(bool, u16, LinkInstance)> = layout
        .links
        .par_iter()
        .enumerate()
        .filter_map(|(l, &(a, b))| {
            let util = frame.link_util_permille.get(l).copied().unwrap_or(0);
            let attack = frame.link_attack.get(l).copied().unwrap_or(false);
            let (pa, pb) = (screen[a as usize], screen[b as usize]);
            // Off screen when both ends lie beyond the same edge.
            if (pa[0] < 0.0 && pb[0] < 0.0)
                || (pa[1] < 0.0 && pb[1] < 0.0)
                || (pa[0] > w && pb[0] > w)
                || (pa[1] > h && pb[1] > h)
            {
                return None;
            }
            let len = ((pa[0] - pb[0]).powi(2) + (pa[1] - pb[1]).powi(2)).sqrt();
            let significant = attack || util >= LOD_LINK_PERMILLE;
            if !significant && (len < 1.0 || aggregated) {
                return None;
            }
            Some((
                attack,
                util,
                LinkInstance {
                    a: layout.positions[a as usize],
                    b: layout.positions[b as usize],
                    width_px: link_width(util, attack),
                    color: if attack {
                        ATTACK_LINK
                    } else {
                        link_color(util)
                    },
                },
            ))
        })
        .collect();
    // Too many quiet links is a grey fog (and most of the frame's cost): keep only the
    // loaded and attacked ones then.
    if links.len() > MAX_QUIET_LINKS {
        let quiet = links
            .iter()
            .filter(|(attack, util, _)| !attack && *util < LOD_LINK_PERMILLE)
            .count();
        if quiet > MAX_QUIET_LINKS {
            links.retain(|(attack, util, _)| *attack || *util >= LOD_LINK_PERMILLE);
        }
    }
    links.sort_by_key(|&(attack, util, _)| (attack, util));
    Scene {
        links: links.into_iter().map(|(_, _, l)| l).collect(),
        nodes,
        aggregated,
        visible_nodes: visible.len() as u64,
        labels: Vec::new(),
        panels: Vec::new(),
    }
}
