//! The viewer offscreen on whatever adapter there is (Mesa lavapipe in CI): pixels at
//! known places, the same picture twice, level of detail.

use paraverse_sim::bundled;

use super::scene::{ATTACK_LINK, BACKGROUND, link_color};
use super::*;
use crate::View;

fn gpu() -> Option<Gpu> {
    match Gpu::headless() {
        Ok(g) => Some(g),
        Err(e) => {
            assert!(
                std::env::var_os("PARAVERSE_REQUIRE_GPU").is_none_or(|v| v != "1"),
                "PARAVERSE_REQUIRE_GPU=1 but {e}"
            );
            eprintln!("skipping: {e}");
            None
        }
    }
}

/// A small layout: the campaign venue's nodes, and two links far apart: a headset to the
/// identity provider, a sensor to a wallet service.
fn venue() -> Layout {
    let s = bundled::load(Some("campaign-botnet-ddos")).unwrap();
    let first = |name: &str| s.groups.iter().find(|g| g.name == name).unwrap().first_node;
    let links = vec![
        (first("headsets"), first("idp")),
        (first("sensors"), first("wallets")),
    ];
    Layout::new(&s, links)
}

fn close(a: [u8; 4], b: [u8; 4]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 2)
}

#[test]
fn layout_is_deterministic_inside_the_disc_and_tiers_are_rings() {
    let s = bundled::load(Some("metaverse-under-siege")).unwrap();
    let a = Layout::new(&s, Vec::new());
    let b = Layout::new(&s, Vec::new());
    assert_eq!(a.positions, b.positions);
    let r = |p: [f32; 2]| (p[0] * p[0] + p[1] * p[1]).sqrt();
    for g in &s.groups {
        let t = layout::tier(g.kind);
        for k in 0..g.count {
            let p = a.positions[(g.first_node + k) as usize];
            assert!(r(p) <= 1.0);
            // Terminals outside edge, edge outside core, core outside trust.
            match t {
                0 => assert!(r(p) >= 0.7 - 1e-4, "{} at {}", g.name, r(p)),
                3 => assert!(r(p) <= 0.22 + 1e-4, "{} at {}", g.name, r(p)),
                _ => {}
            }
        }
    }
    // No two nodes of a small scenario share a position.
    let mut pos: Vec<(u32, u32)> = a
        .positions
        .iter()
        .map(|p| (p[0].to_bits(), p[1].to_bits()))
        .collect();
    pos.sort_unstable();
    pos.dedup();
    assert_eq!(pos.len(), a.positions.len());
}

#[test]
fn pixels_show_background_a_compromised_node_and_a_loaded_link() {
    let Some(gpu) = gpu() else { return };
    let layout = venue();
    let n = layout.positions.len();
    let mut frame = NetworkFrame {
        tick: 7,
        states: vec![NodeState::Healthy; n],
        link_util_permille: vec![1000, 0],
        link_attack: vec![false, true],
    };
    let victim = 40;
    frame.states[victim] = NodeState::Compromised;
    let camera = Camera::fit([640, 480]);
    let (img, scene) = render_image(&gpu, &layout, &frame, &camera).unwrap();
    assert!(!scene.aggregated);
    assert_eq!((img.width, img.height), (640, 480));
    // Background in a corner (the disc never reaches it).
    assert_eq!(img.pixel(2, 2), BACKGROUND);
    // The compromised node's colour at its position.
    let p = camera.to_screen(layout.positions[victim]);
    let px = img.pixel(p[0] as u32, p[1] as u32);
    assert!(close(px, NodeState::Compromised.color()), "{px:?} at {p:?}");
    // A healthy node elsewhere is healthy-coloured.
    let q = camera.to_screen(layout.positions[300]);
    assert!(frame.states[300] == NodeState::Healthy);
    assert!(close(
        img.pixel(q[0] as u32, q[1] as u32),
        NodeState::Healthy.color()
    ));
    // The saturated link's colour at its midpoint (away from its end nodes), and the
    // attacked one's.
    for (l, want) in [(0usize, link_color(1000)), (1, ATTACK_LINK)] {
        let (a, b) = layout.links[l];
        let (pa, pb) = (
            camera.to_screen(layout.positions[a as usize]),
            camera.to_screen(layout.positions[b as usize]),
        );
        let mid = [(pa[0] + pb[0]) / 2.0, (pa[1] + pb[1]) / 2.0];
        let px = img.pixel(mid[0] as u32, mid[1] as u32);
        assert!(close(px, want), "link {l}: {px:?}, want {want:?}");
    }
    // The same render twice is the same image.
    let (again, _) = render_image(&gpu, &layout, &frame, &camera).unwrap();
    assert_eq!(img, again);
    // A different state changes the pixel.
    frame.states[victim] = NodeState::Quarantined;
    let (img2, _) = render_image(&gpu, &layout, &frame, &camera).unwrap();
    assert!(close(
        img2.pixel(p[0] as u32, p[1] as u32),
        NodeState::Quarantined.color()
    ));
}

#[test]
fn dense_views_aggregate_and_keep_the_most_severe_state_visible() {
    let s = bundled::load(Some("metaverse-under-siege")).unwrap();
    let layout = Layout::new(&s, Vec::new());
    let n = layout.positions.len();
    let mut frame = NetworkFrame {
        tick: 0,
        states: vec![NodeState::Healthy; n],
        link_util_permille: Vec::new(),
        link_attack: Vec::new(),
    };
    frame.states[5] = NodeState::Compromised;
    // 1,100 nodes on a 160x120 screen: aggregated; on 1600x1200: drawn one by one.
    let small = Camera::fit([160, 120]);
    let sc = scene::build(&layout, &frame, &small);
    assert!(sc.aggregated);
    assert!(sc.nodes.len() < n);
    assert_eq!(
        sc.nodes.last().unwrap().color,
        NodeState::Compromised.color()
    );
    let big = Camera::fit([1600, 1200]);
    let sc = scene::build(&layout, &frame, &big);
    assert!(!sc.aggregated);
    assert_eq!(sc.nodes.len(), n);
    // Zoomed in, nodes off screen are culled.
    let mut zoomed = big;
    zoomed.zoom_at([800.0, 100.0], 50.0);
    let sc = scene::build(&layout, &frame, &zoomed);
    assert!(sc.visible_nodes < n as u64 / 4, "{}", sc.visible_nodes);
    let Some(gpu) = gpu() else { return };
    let (img, _) = render_image(&gpu, &layout, &frame, &small).unwrap();
    let p = small.to_screen(layout.positions[5]);
    let px = img.pixel(p[0] as u32, p[1] as u32);
    assert!(close(px, NodeState::Compromised.color()), "{px:?}");
}

#[test]
fn the_blue_team_sees_sensors_not_ground_truth() {
    use paraverse_attackers::AttackerPlugin;
    use paraverse_sim::prelude::*;
    let plugins: [&'static dyn SimPlugin; 1] = [&AttackerPlugin];
    let mut u = Universe::build(
        bundled::load(Some("campaign-botnet-ddos")).unwrap(),
        &plugins,
    )
    .unwrap();
    for _ in 0..200 {
        u.step();
    }
    let red = NetworkFrame::of_universe_as(&u, crate::View::Red);
    let blue = NetworkFrame::of_universe_as(&u, crate::View::Blue);
    assert_eq!(red, NetworkFrame::of_universe(&u));
    let c = |f: &NetworkFrame, s: NodeState| f.counts()[s as usize];
    assert!(c(&red, NodeState::Compromised) > 0);
    assert!(red.link_attack.iter().any(|&a| a));
    assert_eq!(c(&blue, NodeState::Compromised), 0);
    assert!(!blue.link_attack.iter().any(|&a| a));
    // Both see the same loads and the same outages.
    assert_eq!(red.link_util_permille, blue.link_util_permille);
    for (r, b) in red.states.iter().zip(&blue.states) {
        if *b == NodeState::Down {
            assert!(*r == NodeState::Down || *r == NodeState::Compromised);
        }
    }
}

#[test]
fn the_scene_is_the_same_at_any_thread_count() {
    let s = bundled::load(Some("metaverse-under-siege")).unwrap();
    let n = s.node_count as usize;
    let links: Vec<(u32, u32)> = (0..n as u32 - 1)
        .map(|i| (i, (i * 7 + 3) % n as u32))
        .collect();
    let layout = Layout::new(&s, links);
    let frame = NetworkFrame {
        tick: 0,
        states: (0..n).map(|i| NodeState::ALL[i * 31 % 6]).collect(),
        link_util_permille: (0..n - 1).map(|l| (l * 37 % 1001) as u16).collect(),
        link_attack: (0..n - 1).map(|l| l % 11 == 0).collect(),
    };
    for size in [[120, 90], [1600, 1200]] {
        let camera = Camera::fit(size);
        let scene = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| scene::build(&layout, &frame, &camera))
        };
        let (one, four) = (scene(1), scene(4));
        assert_eq!(one.nodes, four.nodes);
        assert_eq!(one.links, four.links);
        assert!(!one.nodes.is_empty() && !one.links.is_empty());
    }
}

/// Pixels brighter than anything in the background or a link at rest, in a box.
fn bright(image: &Image, x: std::ops::Range<u32>, y: std::ops::Range<u32>) -> usize {
    let mut n = 0;
    for yy in y {
        for xx in x.clone() {
            let [r, g, b, _] = image.pixel(xx, yy);
            if u16::from(r) + u16::from(g) + u16::from(b) > 450 {
                n += 1;
            }
        }
    }
    n
}

/// The picture explains itself: a title in its top-left corner and a legend in its
/// bottom-left (outside the network's disc, so only text can light them), in both teams'
/// views; without a caption those corners are dark.
#[test]
fn the_title_and_legend_are_drawn_as_text() {
    let Some(gpu) = gpu() else { return };
    let s = bundled::load(Some("campaign-botnet-ddos")).unwrap();
    let u = paraverse_sim::universe::Universe::build(s.clone(), &[]).unwrap();
    let layout = Layout::of_universe(&u);
    let frame = NetworkFrame::of_universe(&u);
    let camera = Camera::fit([1200, 800]);
    let (plain, _) = render_image(&gpu, &layout, &frame, &camera).unwrap();
    // The disc spans x 232..968: the corners left of it are background.
    let title = |i: &Image| bright(i, 10..220, 8..40);
    let legend = |i: &Image| bright(i, 10..220, 640..790);
    assert_eq!((title(&plain), legend(&plain)), (0, 0));
    for team in [View::Red, View::Blue] {
        let caption = Caption {
            scenario: s.name.clone(),
            tick_s: 10.0,
            team,
        };
        let (image, scene) =
            render_captioned(&gpu, &s, &layout, &frame, &camera, &caption).unwrap();
        assert!(
            title(&image) > 100,
            "{team:?}: title pixels {}",
            title(&image)
        );
        assert!(
            legend(&image) > 100,
            "{team:?}: legend pixels {}",
            legend(&image)
        );
        let words: Vec<&str> = scene.labels.iter().map(|l| l.text.as_str()).collect();
        assert!(
            words[0].starts_with("campaign-botnet-ddos · tick 0 · 00:00:00"),
            "{words:?}"
        );
        assert!(words.contains(&"gateways"), "group labels: {words:?}");
        assert_eq!(
            words.iter().any(|w| w.starts_with("compromised")),
            team == View::Red,
            "blue's legend has no compromised: {words:?}"
        );
    }
}

/// `--center` (the CLI sets the camera's centre): the chosen node is in the middle of the
/// picture.
#[test]
fn centering_on_a_node_puts_it_in_the_middle() {
    let Some(gpu) = gpu() else { return };
    let s = bundled::load(Some("campaign-botnet-ddos")).unwrap();
    let u = paraverse_sim::universe::Universe::build(s.clone(), &[]).unwrap();
    let layout = Layout::of_universe(&u);
    let frame = NetworkFrame::of_universe(&u);
    let ledger = s
        .groups
        .iter()
        .find(|g| g.name == "ledger")
        .unwrap()
        .first_node;
    let mut camera = Camera::fit([400, 400]);
    camera.zoom = 16.0;
    camera.center = layout.positions[ledger as usize];
    let (image, _) = render_image(&gpu, &layout, &frame, &camera).unwrap();
    let expect = frame.states[ledger as usize].color();
    assert!(
        close(image.pixel(200, 200), expect),
        "{:?} at the centre, the node is {expect:?}",
        image.pixel(200, 200)
    );
}

/// Group labels never print over each other or over the title and legend: on a network
/// of many small groups, a small picture names fewer groups than a large one, and none
/// of the labels placed overlap (no GPU needed: the caption is laid out on the CPU).
#[test]
fn group_labels_never_overlap() {
    use super::caption::{annotate, label_box, overlap};
    let s = bundled::load(Some("cage4-like")).unwrap();
    assert!(s.groups.len() > 20, "{} groups", s.groups.len());
    let u = paraverse_sim::universe::Universe::build(s.clone(), &[]).unwrap();
    let layout = Layout::of_universe(&u);
    let frame = NetworkFrame::of_universe(&u);
    let caption = Caption {
        scenario: s.name.clone(),
        tick_s: 10.0,
        team: View::Blue,
    };
    let mut named = Vec::new();
    for size in [[480, 360], [2400, 1800]] {
        let camera = Camera::fit(size);
        let mut scene = scene::build(&layout, &frame, &camera);
        annotate(&mut scene, &s, &layout, &frame, &camera, &caption);
        let is_group = |text: &str| s.groups.iter().any(|g| g.name == text);
        let labels = &scene.labels;
        for (i, a) in labels.iter().enumerate() {
            for b in &labels[i + 1..] {
                if is_group(&a.text) || is_group(&b.text) {
                    assert!(
                        !overlap(&label_box(a), &label_box(b)),
                        "{size:?}: `{}` over `{}`",
                        a.text,
                        b.text
                    );
                }
            }
        }
        named.push(labels.iter().filter(|l| is_group(&l.text)).count());
    }
    assert!(named[0] >= 1 && named[0] < named[1], "{named:?}");
}
