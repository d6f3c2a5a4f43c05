//! What the picture says about itself: a title (scenario, tick, time, team, zoom), a
//! legend of node states with their counts and of link colours, and the groups' names at
//! their place on the rings.

use paraverse_sim::scenario::Scenario;

use super::camera::Camera;
use super::frame::{NetworkFrame, NodeState};
use super::layout::Layout;
use super::scene::{ATTACK_LINK, BACKGROUND, LinkInstance, Scene, link_color};
use super::text::Label;
use crate::View;

/// Groups labelled at most (the largest that fit), so labels stay readable.
const MAX_GROUP_LABELS: usize = 24;

/// The facts of the title.
#[derive(Debug, Clone, PartialEq)]
pub struct Caption {
    /// Scenario name.
    pub scenario: String,
    /// Simulated seconds per tick.
    pub tick_s: f64,
    /// Whose view.
    pub team: View,
}

fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The width of `text` at `size` pixels in the embedded monospace font (0.6 em a
/// character).
fn text_width(text: &str, size: f32) -> f32 {
    text.chars().count() as f32 * size * 0.6
}

/// A translucent box from `from` to `to` (pixels, top-left to bottom-right), drawn as a
/// thick horizontal link through its middle.
fn panel(scene: &mut Scene, camera: &Camera, from: [f32; 2], to: [f32; 2]) {
    let y = (from[1] + to[1]) / 2.0;
    scene.panels.push(LinkInstance {
        a: camera.to_world([from[0], y]),
        b: camera.to_world([to[0], y]),
        width_px: to[1] - from[1],
        color: PANEL,
    });
}

/// The boxes' colour: the background, mostly opaque.
const PANEL: [u8; 4] = [BACKGROUND[0], BACKGROUND[1], BACKGROUND[2], 215];

/// Adds the title, the legend and the group labels to `scene`.
pub fn annotate(
    scene: &mut Scene,
    scenario: &Scenario,
    layout: &Layout,
    frame: &NetworkFrame,
    camera: &Camera,
    caption: &Caption,
) {
    let short = camera.size[0].min(camera.size[1]) as f32;
    let big = (short / 45.0).clamp(11.0, 28.0);
    let small = (big * 0.72).max(9.0);
    let margin = big * 0.6;
    let white = [235, 238, 245, 255];
    let light = [200, 206, 218, 255];
    let team = match caption.team {
        View::Red => "red view: ground truth",
        View::Blue => "blue view: what the sensors show",
    };
    let mut title = format!(
        "{} · tick {} · {} · {team}",
        caption.scenario,
        frame.tick,
        clock(f64::from(frame.tick) * caption.tick_s)
    );
    if camera.zoom > 1.0 {
        title.push_str(&format!(" · zoom ×{}", camera.zoom));
    }
    panel(
        scene,
        camera,
        [margin * 0.5, margin * 0.5],
        [margin + text_width(&title, big), margin * 1.5 + big * 1.2],
    );
    scene.labels.push(Label {
        text: title,
        at: [margin, margin],
        size: big,
        color: white,
    });
    // The legend, bottom left: states (most severe first) with counts, then links.
    let counts = frame.counts();
    // Each line: a mark in the colour drawn, then the words in light grey (a dark colour
    // such as an idle link's would not read as text on the background).
    let mut lines: Vec<(&str, String, [u8; 4])> = NodeState::ALL
        .iter()
        .rev()
        .filter(|s| caption.team == View::Red || **s != NodeState::Compromised)
        .map(|&s| {
            (
                "●",
                format!("{} {}", s.name(), counts[s as usize]),
                s.color(),
            )
        })
        .collect();
    lines.push(("━", "link, idle".into(), link_color(0)));
    lines.push(("━", "link, saturated".into(), link_color(1000)));
    if caption.team == View::Red {
        lines.push(("━", "attack flow".into(), ATTACK_LINK));
        // Why red's "down" is below blue's: a held node that is also down counts as held.
        lines.push((" ", "each node in its most severe state".into(), light));
    }
    let step = small * 1.35;
    let top = camera.size[1] as f32 - margin - step * lines.len() as f32;
    let widest = lines
        .iter()
        .map(|(_, t, _)| text_width(t, small))
        .fold(0.0f32, f32::max);
    panel(
        scene,
        camera,
        [margin * 0.5, top - margin * 0.5],
        [
            margin * 1.5 + small * 1.5 + widest,
            camera.size[1] as f32 - margin * 0.5,
        ],
    );
    for (i, (mark, text, color)) in lines.into_iter().enumerate() {
        let y = top + step * i as f32;
        scene.labels.push(Label {
            text: mark.into(),
            at: [margin, y],
            size: small,
            color,
        });
        scene.labels.push(Label {
            text,
            at: [margin + small * 1.5, y],
            size: small,
            color: light,
        });
    }
    // Group names where their nodes are, the largest groups first; a label that would
    // overlap the title, the legend or a label already placed is left out (many small
    // groups on one ring would otherwise print over each other).
    let mut taken: Vec<[f32; 4]> = scene.labels.iter().map(label_box).collect();
    let mut groups: Vec<usize> = (0..scenario.groups.len()).collect();
    groups.sort_by_key(|&g| std::cmp::Reverse(scenario.groups[g].count));
    let (w, h) = (camera.size[0] as f32, camera.size[1] as f32);
    let mut placed = 0;
    for g in groups {
        if placed == MAX_GROUP_LABELS {
            break;
        }
        let group = &scenario.groups[g];
        let Some(&p) = layout
            .positions
            .get((group.first_node + group.count / 2) as usize)
        else {
            continue;
        };
        let [x, y] = camera.to_screen(p);
        if !(0.0..w).contains(&x) || !(0.0..h).contains(&y) {
            continue;
        }
        let label = Label {
            text: group.name.clone(),
            at: [x + small * 0.4, y - small * 0.6],
            size: small,
            color: light,
        };
        let b = label_box(&label);
        if taken.iter().any(|t| overlap(t, &b)) {
            continue;
        }
        taken.push(b);
        scene.labels.push(label);
        placed += 1;
    }
}

/// The box a label's text covers, pixels: left, top, right, bottom (a line is 1.2 em).
pub(crate) fn label_box(l: &Label) -> [f32; 4] {
    [
        l.at[0],
        l.at[1],
        l.at[0] + text_width(&l.text, l.size),
        l.at[1] + l.size * 1.2,
    ]
}

/// Whether two boxes overlap.
pub(crate) fn overlap(a: &[f32; 4], b: &[f32; 4]) -> bool {
    a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
}
