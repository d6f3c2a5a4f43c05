//! `paraverse view` through the real binary: a PNG of a seeded scenario rendered offscreen
//! (Mesa lavapipe in CI), checked at pixels whose meaning the test works out itself from
//! the same scenario (background, a compromised node where the layout puts it, a link an
//! attack crosses); the same render twice gives the same file; without an adapter or a
//! display the command says what to do instead.

mod common;

use std::path::Path;
use std::process::Command;

use common::{paraverse, text};

use paraverse_lab::plugins::plugins;
use paraverse_sim::bundled;
use paraverse_sim::prelude::*;
use paraverse_viz::view::scene::{ATTACK_LINK, BACKGROUND};
use paraverse_viz::view::{Camera, Gpu, Image, Layout, NetworkFrame, NodeState};

fn have_gpu() -> bool {
    match Gpu::headless() {
        Ok(_) => true,
        Err(e) => {
            common::skip_unless_required("PARAVERSE_REQUIRE_GPU", &e.to_string());
            false
        }
    }
}

fn read_png(path: &Path) -> Image {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgba);
    buf.truncate(info.buffer_size());
    Image {
        width: info.width,
        height: info.height,
        rgba: buf,
    }
}

/// The scenario at a tick, as the test's own universe sees it.
fn world_at(name: &str, tick: u32) -> (Layout, NetworkFrame) {
    let plugins = plugins();
    let mut u = Universe::build(bundled::load(Some(name)).unwrap(), &plugins).unwrap();
    while u.clock().tick < tick {
        assert!(u.step());
    }
    (Layout::of_universe(&u), NetworkFrame::of_universe(&u))
}

#[test]
fn png_of_a_seeded_scenario_shows_its_state_at_known_pixels_and_is_reproducible() {
    if !have_gpu() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (scenario, tick, size) = ("metaverse-under-siege", 200u32, [1000u32, 800u32]);
    let args = |out: &str| {
        vec![
            "view".to_owned(),
            scenario.to_owned(),
            "--png".to_owned(),
            out.to_owned(),
            "--at".to_owned(),
            tick.to_string(),
            "--size".to_owned(),
            format!("{}x{}", size[0], size[1]),
            // The pixels of nodes and links, without text over any of them.
            "--no-text".to_owned(),
        ]
    };
    let run = |out: &str| {
        let a = args(out);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let o = paraverse(&a, tmp.path());
        assert!(o.status.success(), "{}", text(&o.stderr));
        o
    };
    let out = run("a.png");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("at tick 200"), "{stdout}");
    let img = read_png(&tmp.path().join("a.png"));
    assert_eq!((img.width, img.height), (size[0], size[1]));

    let (layout, frame) = world_at(scenario, tick);
    let camera = Camera::fit(size);
    assert_eq!(img.pixel(1, 1), BACKGROUND);
    // Every compromised node shows red where the layout puts it (they are drawn last).
    let compromised: Vec<usize> = (0..frame.states.len())
        .filter(|&i| frame.states[i] == NodeState::Compromised)
        .collect();
    assert!(
        compromised.len() > 10,
        "the siege has compromised nodes by tick 200"
    );
    for &i in &compromised {
        let p = camera.to_screen(layout.positions[i]);
        assert_eq!(
            img.pixel(p[0] as u32, p[1] as u32),
            NodeState::Compromised.color(),
            "node {i} at {p:?}"
        );
    }
    // A link an attack crosses, at a point of it far from every node, is magenta.
    let node_px: Vec<[f32; 2]> = layout
        .positions
        .iter()
        .map(|&p| camera.to_screen(p))
        .collect();
    let far = |q: [f32; 2]| {
        node_px
            .iter()
            .all(|p| (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) > 15.0 * 15.0)
    };
    let mut checked = 0;
    for (l, &(a, b)) in layout.links.iter().enumerate() {
        if !frame.link_attack[l] {
            continue;
        }
        let (pa, pb) = (node_px[a as usize], node_px[b as usize]);
        for t in [0.3f32, 0.5, 0.7] {
            let q = [pa[0] + (pb[0] - pa[0]) * t, pa[1] + (pb[1] - pa[1]) * t];
            if far(q) {
                assert_eq!(img.pixel(q[0] as u32, q[1] as u32), ATTACK_LINK, "link {l}");
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "some attacked link runs clear of the nodes");

    // The same render twice: the same bytes.
    run("b.png");
    assert_eq!(
        std::fs::read(tmp.path().join("a.png")).unwrap(),
        std::fs::read(tmp.path().join("b.png")).unwrap()
    );

    // The blue team does not see compromise: nodes red shows compromised are drawn in
    // what their sensors say, never red.
    let mut blue_args = args("blue.png");
    blue_args.extend(["--team".to_owned(), "blue".to_owned()]);
    let blue_args: Vec<&str> = blue_args.iter().map(String::as_str).collect();
    let o = paraverse(&blue_args, tmp.path());
    assert!(o.status.success(), "{}", text(&o.stderr));
    let blue = read_png(&tmp.path().join("blue.png"));
    for &i in &compromised {
        let p = camera.to_screen(layout.positions[i]);
        assert_ne!(
            blue.pixel(p[0] as u32, p[1] as u32),
            NodeState::Compromised.color(),
            "node {i}"
        );
    }
}

#[test]
fn without_an_adapter_or_a_display_view_says_what_to_do_instead() {
    let tmp = tempfile::tempdir().unwrap();
    // WGPU_BACKEND=metal leaves no adapter on Linux.
    let out = common::bin()
        .args(["view", "--png", "x.png"])
        .current_dir(tmp.path())
        .env("WGPU_BACKEND", "metal")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("no GPU adapter"), "{err}");
    assert!(
        err.contains("mesa-vulkan-drivers") && err.contains("paraverse watch"),
        "{err}"
    );
    assert!(!tmp.path().join("x.png").exists());

    let out = common::bin()
        .args(["view", "campaign-botnet-ddos"])
        .current_dir(tmp.path())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("cannot open a window"), "{err}");
    assert!(
        err.contains("--png") && err.contains("paraverse watch"),
        "{err}"
    );
}

#[test]
fn view_help_and_bad_arguments() {
    let tmp = tempfile::tempdir().unwrap();
    let out = paraverse(&["view", "--help"], tmp.path());
    let help = text(&out.stdout);
    for s in [
        "--png",
        "--at",
        "--size",
        "space pause",
        "compromised",
        "3-pixel cells",
    ] {
        assert!(help.contains(s), "{s} missing:\n{help}");
    }
    let out = paraverse(&["view", "--png", "x.png", "--size", "big"], tmp.path());
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("WIDTHxHEIGHT"),
        "{}",
        text(&out.stderr)
    );
    let out = paraverse(&["view", "--at", "5"], tmp.path());
    assert!(!out.status.success(), "--at needs --png");
    let out = paraverse(&["view", "no-such-scenario", "--png", "x.png"], tmp.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

/// Whether a tool is there; a missing one skips (or fails under PARAVERSE_REQUIRE_DISPLAY=1).
fn have(tool: &str) -> bool {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        common::skip_unless_required(
            "PARAVERSE_REQUIRE_DISPLAY",
            &format!("`{tool}` is missing for the window test (apt-get install xvfb xdotool)"),
        );
    }
    ok
}

/// An X server of its own (Xvfb), killed when dropped.
struct Xvfb(std::process::Child, String);

impl Xvfb {
    /// Starts Xvfb on a display it picks itself (`-displayfd`: the X server checks the
    /// lock files, so sockets left by killed servers do not count as taken) and waits,
    /// bounded, for it to say which.
    fn start() -> Self {
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1024x768x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("Xvfb starts");
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line);
            let _ = tx.send(line);
        });
        match rx.recv_timeout(std::time::Duration::from_secs(20)) {
            Ok(n) if n.trim().parse::<u32>().is_ok() => {
                let display = format!(":{}", n.trim());
                Xvfb(child, display)
            }
            other => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("Xvfb did not report its display: {other:?}");
            }
        }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn xdotool(display: &str, args: &[&str]) -> String {
    let out = Command::new("timeout")
        .arg("20")
        .arg("xdotool")
        .args(args)
        .env("DISPLAY", display)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "xdotool {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn the_window_opens_answers_a_click_and_keys_and_reports_its_frames() {
    if !have_gpu() || !have("Xvfb") || !have("xdotool") {
        return;
    }
    let x = Xvfb::start();
    let tmp = tempfile::tempdir().unwrap();
    let size = [800u32, 600u32];
    let child = common::bin()
        .args([
            "view",
            "campaign-botnet-ddos",
            "--paused",
            "--size",
            "800x600",
        ])
        .current_dir(tmp.path())
        .env("DISPLAY", &x.1)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Never hang the suite: the window closes within a minute whatever happens.
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if finished
            .recv_timeout(std::time::Duration::from_secs(60))
            .is_err()
        {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    });
    let window = xdotool(&x.1, &["search", "--sync", "--name", "paraverse view"]);
    let window = window.lines().next().expect("a window").trim().to_owned();
    xdotool(&x.1, &["windowfocus", "--sync", &window]);
    std::thread::sleep(std::time::Duration::from_millis(500));

    // Click the first GPU render node, where the layout puts it.
    let (layout, _) = world_at("campaign-botnet-ddos", 0);
    let s = bundled::load(Some("campaign-botnet-ddos")).unwrap();
    let node = s
        .groups
        .iter()
        .find(|g| g.name == "gpu-render")
        .unwrap()
        .first_node;
    let p = Camera::fit(size).to_screen(layout.positions[node as usize]);
    let (px, py) = (
        (p[0].round() as i64).to_string(),
        (p[1].round() as i64).to_string(),
    );
    xdotool(&x.1, &["mousemove", "--window", &window, &px, &py]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    xdotool(&x.1, &["click", "1"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    for key in ["n", "n", "n", "b"] {
        xdotool(&x.1, &["key", key]);
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    // The window handles the keys in order, however loaded the machine: wait for the title.
    let mut title = String::new();
    for _ in 0..100 {
        title = xdotool(&x.1, &["getwindowname", &window]);
        if title.contains("blue (sensors)") && title.contains("tick 3/") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        title.contains("blue (sensors)") && title.contains("tick 3/") && title.contains("(paused)"),
        "{title}"
    );
    xdotool(&x.1, &["key", "q"]);
    let out = child.wait_with_output().unwrap();
    let _ = done.send(());
    watchdog.join().unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!("node {node}: gpu-render #0 (gpu_node, zone core)")),
        "{stdout}"
    );
    // Paused, three steps: tick 3.
    assert!(stdout.contains("window closed at tick 3:"), "{stdout}");
    assert!(text(&out.stderr).contains("llvmpipe") || text(&out.stderr).contains("Vulkan"));
}

#[test]
fn bench_view_times_three_views_against_the_whole_one() {
    if !have_gpu() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = paraverse(
        &[
            "bench",
            "--view",
            "campaign-botnet-ddos",
            "--ticks",
            "2",
            "--json",
        ],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    let views = v["views"].as_array().unwrap();
    assert_eq!(views.len(), 3);
    assert_eq!(views[0]["ratio_to_whole_view"], 1.0);
    assert_eq!(v["nodes"], 1116);
    assert!(views.iter().all(|w| w["frame_ms"].as_f64().unwrap() > 0.0));
    // Zoomed in, fewer nodes are on screen.
    assert!(views[2]["visible_nodes"].as_u64() < views[0]["visible_nodes"].as_u64());
}

/// Without `--no-text` the picture has its title and legend (text pixels in the corners
/// outside the network's disc), `--center` takes a group or a node, and a bad one is a
/// clear error.
#[test]
fn png_has_a_title_and_legend_and_centres_on_a_group() {
    if !have_gpu() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let png = |extra: &[&str]| {
        let mut a = vec![
            "view",
            "campaign-botnet-ddos",
            "--png",
            "p.png",
            "--at",
            "200",
            "--size",
            "1200x800",
        ];
        a.extend_from_slice(extra);
        let o = paraverse(&a, tmp.path());
        assert!(o.status.success(), "{}", text(&o.stderr));
        read_png(&tmp.path().join("p.png"))
    };
    let lit = |img: &Image, ys: std::ops::Range<u32>| {
        ys.flat_map(|y| (10..220).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let [r, g, b, _] = img.pixel(x, y);
                u16::from(r) + u16::from(g) + u16::from(b) > 450
            })
            .count()
    };
    let with = png(&[]);
    let without = png(&["--no-text"]);
    assert!(
        lit(&with, 8..40) > 100 && lit(&without, 8..40) == 0,
        "title"
    );
    assert!(
        lit(&with, 640..790) > 100 && lit(&without, 640..790) == 0,
        "legend"
    );
    let centred = png(&["--center", "ledger", "--zoom", "8", "--no-text"]);
    assert_ne!(centred.rgba, without.rgba);
    let o = paraverse(
        &[
            "view",
            "campaign-botnet-ddos",
            "--png",
            "p.png",
            "--center",
            "nowhere",
        ],
        tmp.path(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("--center nowhere: neither a node number nor a group (headsets"),
        "{}",
        text(&o.stderr)
    );
}
