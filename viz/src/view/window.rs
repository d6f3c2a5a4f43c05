//! The live window (winit): the network redrawn every frame while the CLI's universe
//! runs, with pan (drag), zoom (wheel), pause (space), step (n or →), speed (+ and -),
//! reset (0) and a click on a node to see its state.

use std::sync::Arc;
use std::time::Instant;

use winit::application::ApplicationHandler;
use winit::dpi::PhysicalPosition;
use winit::event::{ElementState, MouseButton, MouseScrollDelta, WindowEvent};
use winit::event_loop::{ActiveEventLoop, ControlFlow, EventLoop};
use winit::keyboard::{Key, NamedKey};
use winit::window::{Window, WindowId};

use super::ViewError;
use super::camera::Camera;
use super::frame::NetworkFrame;
use super::layout::Layout;
use super::render::{Gpu, Renderer};
use super::scene::{self, Scene};
use crate::View;

/// A running simulation, as the window sees it. The CLI implements it over a universe;
/// the viewer only asks it to step.
pub trait LiveSource {
    /// Advances one tick; false when the run is over (nothing changes any more).
    fn step(&mut self) -> bool;
    /// The picture of the current tick, as `team` sees it.
    fn frame(&self, team: View) -> NetworkFrame;
    /// A node's details, shown when it is clicked.
    fn describe(&self, node: u32) -> String;
    /// What runs, for the title (scenario, seed).
    fn title(&self) -> String;
    /// Ticks in the run.
    fn ticks(&self) -> u32;
    /// The scenario, for the picture's text (title, legend, group names).
    fn scenario(&self) -> &paraverse_sim::scenario::Scenario;
}

/// The keys, printed when the window opens.
pub const KEYS: &str = "drag: pan   wheel: zoom   space: pause   n or →: step   + / -: speed   0: reset view   b: red/blue team   click: node state   q: quit";

/// Most ticks simulated between two frames, so the window stays responsive.
const MAX_TICKS_PER_FRAME: u32 = 50;

struct Surface {
    window: Arc<Window>,
    surface: wgpu::Surface<'static>,
    config: wgpu::SurfaceConfiguration,
    gpu: Gpu,
    renderer: Renderer,
}

struct ViewerApp<'a> {
    source: &'a mut dyn LiveSource,
    layout: Layout,
    camera: Camera,
    frame: NetworkFrame,
    scene: Option<Scene>,
    surface: Option<Surface>,
    paused: bool,
    finished: bool,
    ticks_per_s: f64,
    owed: f64,
    last: Instant,
    cursor: [f32; 2],
    press: Option<[f32; 2]>,
    dragged: bool,
    picked: Option<String>,
    frame_ms: f64,
    error: Option<ViewError>,
    size: [u32; 2],
    max_frames: Option<u64>,
    frames: u64,
    total_ms: f64,
    team: View,
    dirty: bool,
}

impl ViewerApp<'_> {
    fn fail(&mut self, event_loop: &ActiveEventLoop, e: ViewError) {
        self.error.get_or_insert(e);
        event_loop.exit();
    }

    fn open(&mut self, event_loop: &ActiveEventLoop) -> Result<(), ViewError> {
        let attrs = Window::default_attributes()
            .with_title(format!("paraverse view: {}", self.source.title()))
            .with_inner_size(winit::dpi::PhysicalSize::new(self.size[0], self.size[1]));
        let window = Arc::new(
            event_loop
                .create_window(attrs)
                .map_err(|e| ViewError::NoDisplay(e.to_string()))?,
        );
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let surface = instance
            .create_surface(window.clone())
            .map_err(|e| ViewError::NoDisplay(e.to_string()))?;
        let gpu = Gpu::new(&instance, Some(&surface))?;
        let size = window.inner_size();
        let caps = surface.get_capabilities(&gpu.adapter);
        // A plain (non-sRGB) format draws the same colours as the PNGs.
        let format = caps
            .formats
            .iter()
            .copied()
            .find(|f| !f.is_srgb())
            .or_else(|| caps.formats.first().copied())
            .ok_or_else(|| ViewError::NoDisplay("the surface offers no format".to_owned()))?;
        let config = wgpu::SurfaceConfiguration {
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
            format,
            color_space: wgpu::SurfaceColorSpace::Auto,
            width: size.width.max(1),
            height: size.height.max(1),
            present_mode: wgpu::PresentMode::AutoVsync,
            desired_maximum_frame_latency: 2,
            alpha_mode: caps.alpha_modes[0],
            view_formats: vec![],
        };
        surface.configure(&gpu.device, &config);
        let renderer = Renderer::new(&gpu, format);
        self.camera.size = [config.width, config.height];
        eprintln!(
            "paraverse view: {} on {}",
            self.source.title(),
            gpu.adapter_name
        );
        eprintln!("{KEYS}");
        self.surface = Some(Surface {
            window,
            surface,
            config,
            gpu,
            renderer,
        });
        Ok(())
    }

    fn advance(&mut self) {
        let now = Instant::now();
        let dt = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        if self.paused || self.finished {
            self.owed = 0.0;
            return;
        }
        self.owed += dt * self.ticks_per_s;
        let n = (self.owed.floor() as u32).min(MAX_TICKS_PER_FRAME);
        self.owed -= f64::from(n);
        self.owed = self.owed.min(f64::from(MAX_TICKS_PER_FRAME));
        self.step(n);
    }

    fn step(&mut self, n: u32) {
        if n == 0 {
            return;
        }
        for _ in 0..n {
            if !self.source.step() {
                self.finished = true;
                break;
            }
        }
        self.frame = self.source.frame(self.team);
        self.scene = None;
    }

    fn redraw(&mut self) -> Result<(), ViewError> {
        self.dirty = false;
        self.advance();
        let started = Instant::now();
        let scene = self.scene.get_or_insert_with(|| {
            let mut scene = scene::build(&self.layout, &self.frame, &self.camera);
            let scenario = self.source.scenario();
            let caption = super::Caption {
                scenario: scenario.name.clone(),
                tick_s: scenario.tick.as_micros() as f64 / 1e6,
                team: self.team,
            };
            super::annotate(
                &mut scene,
                scenario,
                &self.layout,
                &self.frame,
                &self.camera,
                &caption,
            );
            scene
        });
        let Some(s) = self.surface.as_mut() else {
            return Ok(());
        };
        let texture = match s.surface.get_current_texture() {
            wgpu::CurrentSurfaceTexture::Success(t)
            | wgpu::CurrentSurfaceTexture::Suboptimal(t) => t,
            wgpu::CurrentSurfaceTexture::Outdated | wgpu::CurrentSurfaceTexture::Lost => {
                s.surface.configure(&s.gpu.device, &s.config);
                return Ok(());
            }
            _ => return Ok(()),
        };
        let view = texture
            .texture
            .create_view(&wgpu::TextureViewDescriptor::default());
        let mut encoder = s
            .gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("frame"),
            });
        s.renderer
            .draw(&s.gpu, &mut encoder, &view, &self.camera, scene)?;
        s.gpu.queue.submit([encoder.finish()]);
        s.window.pre_present_notify();
        s.gpu.queue.present(texture);
        s.gpu.check()?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        self.frames += 1;
        self.total_ms += ms;
        self.frame_ms = if self.frame_ms == 0.0 {
            ms
        } else {
            0.9 * self.frame_ms + 0.1 * ms
        };
        let state = if self.finished {
            " (finished)"
        } else if self.paused {
            " (paused)"
        } else {
            ""
        };
        s.window.set_title(&format!(
            "paraverse view: {} | {} | tick {}/{}{state} | {} ticks/s | {:.1} ms/frame | {} nodes{}{}",
            self.source.title(),
            match self.team {
                View::Red => "red (ground truth)",
                View::Blue => "blue (sensors)",
            },
            self.frame.tick,
            self.source.ticks(),
            self.ticks_per_s,
            self.frame_ms,
            scene.visible_nodes,
            if scene.aggregated {
                " (aggregated)"
            } else {
                ""
            },
            self.picked
                .as_deref()
                .map(|p| format!(" | {p}"))
                .unwrap_or_default()
        ));
        Ok(())
    }

    fn click(&mut self, at: [f32; 2]) {
        let tolerance = 10.0 / self.camera.scale();
        if let Some(node) = self.layout.nearest(self.camera.to_world(at), tolerance) {
            let text = self.source.describe(node);
            println!("{text}");
            self.picked = Some(text);
        } else {
            self.picked = None;
        }
    }
}

impl ApplicationHandler for ViewerApp<'_> {
    fn resumed(&mut self, event_loop: &ActiveEventLoop) {
        if self.surface.is_none()
            && let Err(e) = self.open(event_loop)
        {
            self.fail(event_loop, e);
        }
    }

    #[allow(
        clippy::disallowed_methods,
        reason = "drawing only: a last-bit difference moves a pixel, never a result"
    )]
    fn window_event(&mut self, event_loop: &ActiveEventLoop, _id: WindowId, event: WindowEvent) {
        if !matches!(event, WindowEvent::RedrawRequested) {
            self.dirty = true;
        }
        match event {
            WindowEvent::CloseRequested => event_loop.exit(),
            WindowEvent::Resized(size) => {
                if let Some(s) = self.surface.as_mut() {
                    s.config.width = size.width.max(1);
                    s.config.height = size.height.max(1);
                    s.surface.configure(&s.gpu.device, &s.config);
                    self.camera.size = [s.config.width, s.config.height];
                    self.scene = None;
                }
            }
            WindowEvent::RedrawRequested => {
                if let Err(e) = self.redraw() {
                    self.fail(event_loop, e);
                }
                if self.max_frames.is_some_and(|m| self.frames >= m) {
                    event_loop.exit();
                }
            }
            WindowEvent::CursorMoved { position, .. } => {
                let p = [position.x as f32, position.y as f32];
                if self.press.is_some() {
                    let (dx, dy) = (p[0] - self.cursor[0], p[1] - self.cursor[1]);
                    if dx != 0.0 || dy != 0.0 {
                        self.camera.pan(dx, dy);
                        self.scene = None;
                        self.dragged = true;
                    }
                }
                self.cursor = p;
            }
            WindowEvent::MouseInput {
                state,
                button: MouseButton::Left,
                ..
            } => match state {
                ElementState::Pressed => {
                    self.press = Some(self.cursor);
                    self.dragged = false;
                }
                ElementState::Released => {
                    if self.press.take().is_some() && !self.dragged {
                        self.click(self.cursor);
                    }
                }
            },
            WindowEvent::MouseWheel { delta, .. } => {
                let lines = match delta {
                    MouseScrollDelta::LineDelta(_, y) => y,
                    MouseScrollDelta::PixelDelta(PhysicalPosition { y, .. }) => y as f32 / 40.0,
                };
                self.camera.zoom_at(self.cursor, 1.2f32.powf(lines));
                self.scene = None;
            }
            WindowEvent::KeyboardInput { event, .. } if event.state == ElementState::Pressed => {
                match event.logical_key.as_ref() {
                    Key::Named(NamedKey::Escape) | Key::Character("q") => event_loop.exit(),
                    Key::Named(NamedKey::Space) => {
                        self.paused = !self.paused;
                        // No catching up on the time spent paused.
                        self.last = Instant::now();
                    }
                    Key::Named(NamedKey::ArrowRight) | Key::Character("n") => {
                        self.paused = true;
                        if !self.finished {
                            self.step(1);
                        }
                    }
                    Key::Character("+") | Key::Character("=") => {
                        self.ticks_per_s = (self.ticks_per_s * 2.0).min(10_000.0);
                    }
                    Key::Character("-") => self.ticks_per_s = (self.ticks_per_s / 2.0).max(0.25),
                    Key::Character("b") => {
                        self.team = match self.team {
                            View::Red => View::Blue,
                            View::Blue => View::Red,
                        };
                        self.frame = self.source.frame(self.team);
                        self.scene = None;
                    }
                    Key::Character("0") | Key::Named(NamedKey::Home) => {
                        self.camera = Camera::fit(self.camera.size);
                        self.scene = None;
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    fn about_to_wait(&mut self, event_loop: &ActiveEventLoop) {
        let Some(s) = &self.surface else { return };
        // Running: draw continuously. Paused with nothing new: sleep until an event.
        let busy = (!self.paused && !self.finished)
            || self.dirty
            || self.scene.is_none()
            || self.max_frames.is_some();
        if busy {
            event_loop.set_control_flow(ControlFlow::Poll);
            s.window.request_redraw();
        } else {
            event_loop.set_control_flow(ControlFlow::Wait);
        }
    }
}

/// Whether a display is reachable: X11 (`DISPLAY`; Wayland sessions provide XWayland).
pub fn display_available() -> Result<(), ViewError> {
    match std::env::var_os("DISPLAY") {
        Some(d) if !d.is_empty() => Ok(()),
        _ => Err(ViewError::NoDisplay(
            if std::env::var_os("WAYLAND_DISPLAY").is_some() {
                "DISPLAY is not set: this build talks to X11; start XWayland".to_owned()
            } else {
                "no display: DISPLAY is not set".to_owned()
            },
        )),
    }
}

/// How the window starts.
#[derive(Debug, Clone, Copy)]
pub struct WindowOptions {
    /// Inner size, pixels.
    pub size: [u32; 2],
    /// Starting speed, ticks per second.
    pub ticks_per_s: f64,
    /// Start paused.
    pub paused: bool,
    /// Close after this many frames (scripted runs, frame-time measurements).
    pub max_frames: Option<u64>,
    /// Whose eyes: red (ground truth) or blue (sensors); `b` switches.
    pub team: View,
}

/// What a window session did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowReport {
    /// Frames drawn.
    pub frames: u64,
    /// Mean time to build and submit a frame (scene building, drawing), ms.
    pub mean_frame_ms: f64,
    /// The tick shown last.
    pub tick: u32,
}

/// Opens the window and runs until it is closed (or `max_frames` are drawn).
pub fn run_window(
    source: &mut dyn LiveSource,
    layout: Layout,
    options: WindowOptions,
) -> Result<WindowReport, ViewError> {
    display_available()?;
    let event_loop = EventLoop::new().map_err(|e| ViewError::NoDisplay(e.to_string()))?;
    event_loop.set_control_flow(ControlFlow::Poll);
    let frame = source.frame(options.team);
    let mut app = ViewerApp {
        source,
        layout,
        camera: Camera::fit(options.size),
        frame,
        scene: None,
        surface: None,
        paused: options.paused,
        finished: false,
        ticks_per_s: options.ticks_per_s,
        owed: 0.0,
        last: Instant::now(),
        cursor: [0.0, 0.0],
        press: None,
        dragged: false,
        picked: None,
        frame_ms: 0.0,
        error: None,
        size: options.size,
        max_frames: options.max_frames,
        frames: 0,
        total_ms: 0.0,
        team: options.team,
        dirty: true,
    };
    event_loop
        .run_app(&mut app)
        .map_err(|e| ViewError::NoDisplay(e.to_string()))?;
    match app.error {
        Some(e) => Err(e),
        None => Ok(WindowReport {
            frames: app.frames,
            mean_frame_ms: app.total_ms / app.frames.max(1) as f64,
            tick: app.frame.tick,
        }),
    }
}
