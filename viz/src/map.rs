//! The terminal's network map (`m` in `paraverse watch`): every node where the GPU
//! viewer puts it ([`Layout`]: rings of tiers, sectors of groups), coloured by its state as
//! the view's team sees it ([`NetworkFrame`]), with the links attack flows cross (red's
//! view only).
//!
//! A terminal has a few thousand braille dots, a network up to millions of nodes: each
//! dot takes the most severe state of the nodes that fall on it, so one compromised node
//! among a thousand healthy ones still shows.

use std::sync::Arc;

use paraverse_sim::universe::Universe;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout as Split, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::canvas::{Canvas, Line as Segment, Points};
use ratatui::widgets::{Block, Borders};

use crate::View;
use crate::view::{Layout, NetworkFrame, NodeState};

/// Attacked links drawn at most (the first ones, in link order).
const MAX_ATTACKED: usize = 400;

/// One tick of the map: positions (shared, computed once per universe) and states.
#[derive(Debug, Clone)]
pub struct NodeMap {
    /// The layout's positions, in the unit disc.
    pub positions: Arc<Vec<[f32; 2]>>,
    /// Each node's state as the team sees it.
    pub states: Vec<NodeState>,
    /// The endpoints of links an attack flow crosses now (red's view; empty for blue).
    pub attacked: Vec<([f32; 2], [f32; 2])>,
}

impl NodeMap {
    /// The map of `u` now, as `view`'s team sees it, on `layout` (of the same universe).
    pub fn of_universe(
        layout: &Layout,
        positions: &Arc<Vec<[f32; 2]>>,
        u: &Universe,
        view: View,
    ) -> Self {
        let frame = NetworkFrame::of_universe_as(u, view);
        let attacked = frame
            .link_attack
            .iter()
            .enumerate()
            .filter(|(_, on)| **on)
            .filter_map(|(l, _)| layout.links.get(l))
            .take(MAX_ATTACKED)
            .map(|&(a, b)| (positions[a as usize], positions[b as usize]))
            .collect();
        NodeMap {
            positions: positions.clone(),
            states: frame.states,
            attacked,
        }
    }
}

fn color(state: NodeState) -> Color {
    let [r, g, b, _] = state.color();
    Color::Rgb(r, g, b)
}

/// The legend's short name of a state.
fn short(state: NodeState) -> &'static str {
    match state {
        NodeState::Healthy => "ok",
        NodeState::Protected => "patch",
        NodeState::Alerted => "alert",
        NodeState::Quarantined => "isol",
        NodeState::Down => "down",
        NodeState::Compromised => "held",
    }
}

/// Draws the map in `area`, with a legend of the states `view` can see on its last row.
pub fn render_map(frame: &mut Frame<'_>, area: Rect, map: &NodeMap, view: View) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title("network map (m: charts)");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [plot, legend] = Split::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    // Braille: 2×4 dots a cell, about square; bounds keep the disc round.
    let (w, h) = (usize::from(plot.width) * 2, usize::from(plot.height) * 4);
    if w == 0 || h == 0 {
        return;
    }
    let (ax, ay) = if w >= h {
        (w as f64 / h as f64, 1.0)
    } else {
        (1.0, h as f64 / w as f64)
    };
    let dot = |p: [f32; 2]| -> Option<usize> {
        let x = ((f64::from(p[0]) / ax + 1.0) / 2.0 * w as f64).floor();
        let y = ((f64::from(p[1]) / ay + 1.0) / 2.0 * h as f64).floor();
        (x >= 0.0 && y >= 0.0 && (x as usize) < w && (y as usize) < h)
            .then(|| y as usize * w + x as usize)
    };
    let mut worst: Vec<Option<NodeState>> = vec![None; w * h];
    for (p, &s) in map.positions.iter().zip(&map.states) {
        if let Some(i) = dot(*p) {
            worst[i] = worst[i].max(Some(s));
        }
    }
    let mut by_state: Vec<Vec<(f64, f64)>> = vec![Vec::new(); NodeState::ALL.len()];
    for (i, s) in worst.iter().enumerate() {
        if let Some(s) = s {
            let (x, y) = ((i % w) as f64 + 0.5, (i / w) as f64 + 0.5);
            by_state[*s as usize].push((
                (x / w as f64 * 2.0 - 1.0) * ax,
                (y / h as f64 * 2.0 - 1.0) * ay,
            ));
        }
    }
    let canvas = Canvas::default()
        .marker(Marker::Braille)
        .x_bounds([-ax, ax])
        .y_bounds([-ay, ay])
        .paint(|ctx| {
            for (a, b) in &map.attacked {
                ctx.draw(&Segment {
                    x1: f64::from(a[0]),
                    y1: f64::from(a[1]),
                    x2: f64::from(b[0]),
                    y2: f64::from(b[1]),
                    color: Color::LightRed,
                });
            }
            // In rising severity: a cell shows the colour painted last.
            for state in NodeState::ALL {
                ctx.draw(&Points {
                    coords: &by_state[state as usize],
                    color: color(state),
                });
            }
        });
    frame.render_widget(canvas, plot);
    let mut spans = Vec::new();
    for state in NodeState::ALL.iter().rev() {
        if view == View::Blue && *state == NodeState::Compromised {
            continue; // blue never sees it
        }
        spans.push(Span::styled("●", Style::new().fg(color(*state))));
        spans.push(Span::raw(format!("{} ", short(*state))));
    }
    if view == View::Red {
        spans.push(Span::styled("─", Style::new().fg(Color::LightRed)));
        spans.push(Span::raw("atk"));
    }
    frame.render_widget(Line::from(spans), legend);
}
