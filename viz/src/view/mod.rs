//! The GPU viewer (`paraverse view`): the network drawn with wgpu, live in a window or
//! offscreen into a PNG.
//!
//! A [`Layout`] places every node once (tiers as rings); each tick a [`NetworkFrame`]
//! reads node states and link loads from the universe; [`scene::build`] turns both,
//! through a [`Camera`], into instances (aggregating sub-pixel nodes, so a million
//! terminals stay interactive); [`render`] draws them with two instanced pipelines. The
//! window ([`window`]) adds pan, zoom, pause, step, speed and node picking; the CLI steps
//! the universe through [`LiveSource`], never this crate.

pub mod camera;
pub mod caption;
pub mod frame;
pub mod layout;
pub mod render;
pub mod scene;
pub mod text;
pub mod window;

use std::path::PathBuf;

pub use camera::Camera;
pub use caption::{Caption, annotate};
pub use frame::{NetworkFrame, NodeState};
pub use layout::Layout;
pub use render::{Gpu, Image, NO_ADAPTER_HELP, Offscreen};
pub use scene::Scene;
pub use window::{LiveSource, WindowOptions, WindowReport, run_window};

/// Why the viewer could not draw.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// No GPU adapter (not even a software one).
    #[error("no GPU adapter ({0}): {NO_ADAPTER_HELP}")]
    NoAdapter(String),
    /// No display to open a window on.
    #[error(
        "cannot open a window ({0}): render offscreen instead with `paraverse view SCENARIO --png out.png --at TICK` (works on software Vulkan, no display needed), or watch the run in the terminal with `paraverse watch`"
    )]
    NoDisplay(String),
    /// A GPU error while drawing.
    #[error("GPU error: {0}")]
    Gpu(String),
    /// An image size the adapter cannot render.
    #[error("bad image size: {0}")]
    Size(String),
    /// Writing the image failed.
    #[error("cannot write {0}: {1}")]
    Io(PathBuf, #[source] std::io::Error),
}

/// Renders one frame offscreen: the whole picture of `frame` at `size` pixels.
pub fn render_image(
    gpu: &Gpu,
    layout: &Layout,
    frame: &NetworkFrame,
    camera: &Camera,
) -> Result<(Image, Scene), ViewError> {
    render_scene(gpu, scene::build(layout, frame, camera), camera)
}

/// [`render_image`] with the picture's text ([`caption::annotate`]): title, legend,
/// group labels.
pub fn render_captioned(
    gpu: &Gpu,
    scenario: &paraverse_sim::scenario::Scenario,
    layout: &Layout,
    frame: &NetworkFrame,
    camera: &Camera,
    caption: &Caption,
) -> Result<(Image, Scene), ViewError> {
    let mut scene = scene::build(layout, frame, camera);
    annotate(&mut scene, scenario, layout, frame, camera, caption);
    render_scene(gpu, scene, camera)
}

fn render_scene(gpu: &Gpu, scene: Scene, camera: &Camera) -> Result<(Image, Scene), ViewError> {
    let mut target = Offscreen::new(gpu, camera.size)?;
    let image = target.render(gpu, camera, &scene)?;
    Ok((image, scene))
}

#[cfg(test)]
mod tests;
