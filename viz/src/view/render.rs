//! The wgpu side: a device, two instanced pipelines, and drawing a [`Scene`] into a
//! window's surface or an offscreen texture read back as RGBA (for PNGs and tests).

use std::path::Path;
use std::sync::{Arc, Mutex};

use bytemuck::{Pod, Zeroable};

use super::ViewError;
use super::camera::Camera;
use super::scene::{BACKGROUND, LinkInstance, NodeInstance, Scene};

/// The view uniform (matches `View` in viewer.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
struct ViewUniform {
    center: [f32; 2],
    scale: f32,
    _pad: f32,
    size: [f32; 2],
    _pad2: [f32; 2],
}

/// First GPU error since the last check.
type ErrorSlot = Arc<Mutex<Option<String>>>;

/// A device and queue, and what they run on.
pub struct Gpu {
    /// The adapter.
    pub adapter: wgpu::Adapter,
    /// The device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// The adapter, e.g. `llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan)`.
    pub adapter_name: String,
    errors: ErrorSlot,
}

/// What to say when there is no adapter.
pub const NO_ADAPTER_HELP: &str = "install Mesa's software Vulkan (Debian: apt-get install mesa-vulkan-drivers) to render with `--png` on the CPU, or watch the run in the terminal with `paraverse watch`";

impl Gpu {
    /// Opens an adapter compatible with `surface` (any, for offscreen work).
    pub fn new(
        instance: &wgpu::Instance,
        surface: Option<&wgpu::Surface<'_>>,
    ) -> Result<Self, ViewError> {
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter: false,
            compatible_surface: surface,
            ..Default::default()
        }))
        .map_err(|e| ViewError::NoAdapter(e.to_string()))?;
        let info = adapter.get_info();
        let adapter_name = format!("{} ({:?})", info.name, info.backend);
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("paraverse view"),
            ..Default::default()
        }))
        .map_err(|e| ViewError::NoAdapter(format!("{adapter_name}: {e}")))?;
        let errors = ErrorSlot::default();
        let slot = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut s) = slot.lock() {
                s.get_or_insert_with(|| e.to_string());
            }
        }));
        Ok(Gpu {
            adapter,
            device,
            queue,
            adapter_name,
            errors,
        })
    }

    /// An adapter without a window (Vulkan, or Mesa's lavapipe on a machine without a GPU).
    pub fn headless() -> Result<Self, ViewError> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        Self::new(&instance, None)
    }

    /// The first GPU error since the last check, if any.
    pub fn check(&self) -> Result<(), ViewError> {
        match self.errors.lock().ok().and_then(|mut s| s.take()) {
            Some(e) => Err(ViewError::Gpu(e)),
            None => Ok(()),
        }
    }
}

/// Pipelines for one target format, and the buffers they draw from.
pub struct Renderer {
    format: wgpu::TextureFormat,
    nodes: wgpu::RenderPipeline,
    links: wgpu::RenderPipeline,
    uniform: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
    node_buf: Option<(wgpu::Buffer, usize)>,
    link_buf: Option<(wgpu::Buffer, usize)>,
    panel_buf: Option<(wgpu::Buffer, usize)>,
    text: super::text::TextLayer,
}

#[allow(
    clippy::disallowed_methods,
    reason = "drawing only: a last-bit difference moves a pixel, never a result"
)]
fn srgb_to_linear(c: u8) -> f64 {
    let c = f64::from(c) / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

impl Renderer {
    /// Builds the pipelines for drawing into textures of `format`.
    pub fn new(gpu: &Gpu, format: wgpu::TextureFormat) -> Self {
        let device = &gpu.device;
        let module = device.create_shader_module(wgpu::include_wgsl!("viewer.wgsl"));
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("view"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::VERTEX,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            }],
        });
        let uniform = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("view"),
            size: std::mem::size_of::<ViewUniform>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("view"),
            layout: &layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: uniform.as_entire_binding(),
            }],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("view"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = |vs: &str, fs: &str, stride: usize, attrs: &[wgpu::VertexAttribute]| {
            device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
                label: Some(vs),
                layout: Some(&pipeline_layout),
                vertex: wgpu::VertexState {
                    module: &module,
                    entry_point: Some(vs),
                    compilation_options: Default::default(),
                    buffers: &[Some(wgpu::VertexBufferLayout {
                        array_stride: stride as u64,
                        step_mode: wgpu::VertexStepMode::Instance,
                        attributes: attrs,
                    })],
                },
                primitive: wgpu::PrimitiveState::default(),
                depth_stencil: None,
                multisample: wgpu::MultisampleState::default(),
                fragment: Some(wgpu::FragmentState {
                    module: &module,
                    entry_point: Some(fs),
                    compilation_options: Default::default(),
                    targets: &[Some(wgpu::ColorTargetState {
                        format,
                        blend: Some(wgpu::BlendState::ALPHA_BLENDING),
                        write_mask: wgpu::ColorWrites::ALL,
                    })],
                }),
                multiview_mask: None,
                cache: None,
            })
        };
        let nodes = pipeline(
            "node_vs",
            "node_fs",
            std::mem::size_of::<NodeInstance>(),
            &wgpu::vertex_attr_array![0 => Float32x2, 1 => Float32, 2 => Uint32, 3 => Unorm8x4],
        );
        let links = pipeline(
            "link_vs",
            "link_fs",
            std::mem::size_of::<LinkInstance>(),
            &wgpu::vertex_attr_array![0 => Float32x2, 1 => Float32x2, 2 => Float32, 3 => Unorm8x4],
        );
        Renderer {
            format,
            nodes,
            links,
            uniform,
            bind_group,
            node_buf: None,
            link_buf: None,
            panel_buf: None,
            text: super::text::TextLayer::new(gpu, format),
        }
    }

    fn upload<T: Pod>(
        gpu: &Gpu,
        slot: &mut Option<(wgpu::Buffer, usize)>,
        data: &[T],
        label: &str,
    ) {
        if data.is_empty() {
            return;
        }
        let bytes = std::mem::size_of_val(data);
        if slot.as_ref().is_none_or(|(_, cap)| *cap < bytes) {
            let cap = bytes.next_power_of_two();
            *slot = Some((
                gpu.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(label),
                    size: cap as u64,
                    usage: wgpu::BufferUsages::VERTEX | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                }),
                cap,
            ));
        }
        let (buf, _) = slot.as_ref().expect("just made");
        gpu.queue.write_buffer(buf, 0, bytemuck::cast_slice(data));
    }

    /// Records drawing `scene` through `camera` into `target` (cleared first), its text
    /// last.
    pub fn draw(
        &mut self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        target: &wgpu::TextureView,
        camera: &Camera,
        scene: &Scene,
    ) -> Result<(), ViewError> {
        self.text.prepare(gpu, camera.size, &scene.labels)?;
        let u = ViewUniform {
            center: camera.center,
            scale: camera.scale(),
            _pad: 0.0,
            size: [camera.size[0] as f32, camera.size[1] as f32],
            _pad2: [0.0; 2],
        };
        gpu.queue
            .write_buffer(&self.uniform, 0, bytemuck::bytes_of(&u));
        Self::upload(gpu, &mut self.link_buf, &scene.links, "links");
        Self::upload(gpu, &mut self.node_buf, &scene.nodes, "nodes");
        Self::upload(gpu, &mut self.panel_buf, &scene.panels, "panels");
        // The clear colour is given in the target's own encoding.
        let bg = |i: usize| {
            if self.format.is_srgb() {
                srgb_to_linear(BACKGROUND[i])
            } else {
                f64::from(BACKGROUND[i]) / 255.0
            }
        };
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("view"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: target,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Clear(wgpu::Color {
                        r: bg(0),
                        g: bg(1),
                        b: bg(2),
                        a: 1.0,
                    }),
                    store: wgpu::StoreOp::Store,
                },
            })],
            ..Default::default()
        });
        pass.set_bind_group(0, &self.bind_group, &[]);
        if let Some((buf, _)) = self.link_buf.as_ref().filter(|_| !scene.links.is_empty()) {
            pass.set_pipeline(&self.links);
            pass.set_vertex_buffer(0, buf.slice(..));
            pass.draw(0..6, 0..scene.links.len() as u32);
        }
        if let Some((buf, _)) = self.node_buf.as_ref().filter(|_| !scene.nodes.is_empty()) {
            pass.set_pipeline(&self.nodes);
            pass.set_vertex_buffer(0, buf.slice(..));
            pass.draw(0..6, 0..scene.nodes.len() as u32);
        }
        if let Some((buf, _)) = self.panel_buf.as_ref().filter(|_| !scene.panels.is_empty()) {
            pass.set_pipeline(&self.links);
            pass.set_vertex_buffer(0, buf.slice(..));
            pass.draw(0..6, 0..scene.panels.len() as u32);
        }
        if !scene.labels.is_empty() {
            self.text.render(&mut pass)?;
        }
        drop(pass);
        self.text.trim();
        Ok(())
    }
}

/// An RGBA image, rows top to bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
    /// RGBA bytes, `width * height * 4`.
    pub rgba: Vec<u8>,
}

impl Image {
    /// The pixel at `(x, y)`.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 4] {
        let i = ((y * self.width + x) * 4) as usize;
        [
            self.rgba[i],
            self.rgba[i + 1],
            self.rgba[i + 2],
            self.rgba[i + 3],
        ]
    }

    /// Writes a PNG.
    pub fn write_png(&self, path: &Path) -> Result<(), ViewError> {
        let io = |e: std::io::Error| ViewError::Io(path.to_owned(), e);
        let file = std::fs::File::create(path).map_err(io)?;
        let mut enc = png::Encoder::new(std::io::BufWriter::new(file), self.width, self.height);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc
            .write_header()
            .map_err(|e| ViewError::Io(path.to_owned(), std::io::Error::other(e)))?;
        w.write_image_data(&self.rgba)
            .map_err(|e| ViewError::Io(path.to_owned(), std::io::Error::other(e)))?;
        w.finish()
            .map_err(|e| ViewError::Io(path.to_owned(), std::io::Error::other(e)))
    }
}

/// Draws offscreen into an RGBA texture of the camera's size and reads it back.
pub struct Offscreen {
    renderer: Renderer,
    texture: wgpu::Texture,
    readback: wgpu::Buffer,
    size: [u32; 2],
    padded_row: u32,
}

/// The offscreen format: plain RGBA bytes, no sRGB conversion, so pixels are the
/// colours the scene asked for.
const OFFSCREEN_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;

impl Offscreen {
    /// Targets of `size` pixels.
    pub fn new(gpu: &Gpu, size: [u32; 2]) -> Result<Self, ViewError> {
        let max = gpu.device.limits().max_texture_dimension_2d;
        if size[0] == 0 || size[1] == 0 || size[0] > max || size[1] > max {
            return Err(ViewError::Size(format!(
                "{}x{} is outside 1x1 to {max}x{max} on {}",
                size[0], size[1], gpu.adapter_name
            )));
        }
        let texture = gpu.device.create_texture(&wgpu::TextureDescriptor {
            label: Some("offscreen"),
            size: wgpu::Extent3d {
                width: size[0],
                height: size[1],
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: OFFSCREEN_FORMAT,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[],
        });
        let padded_row = (size[0] * 4).div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT)
            * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
        let readback = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: u64::from(padded_row) * u64::from(size[1]),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Ok(Offscreen {
            renderer: Renderer::new(gpu, OFFSCREEN_FORMAT),
            texture,
            readback,
            size,
            padded_row,
        })
    }

    /// Renders a scene and returns the image.
    pub fn render(
        &mut self,
        gpu: &Gpu,
        camera: &Camera,
        scene: &Scene,
    ) -> Result<Image, ViewError> {
        let view = self
            .texture
            .create_view(&wgpu::TextureViewDescriptor::default());
        let mut encoder = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("png") });
        self.renderer
            .draw(gpu, &mut encoder, &view, camera, scene)?;
        encoder.copy_texture_to_buffer(
            wgpu::TexelCopyTextureInfo {
                texture: &self.texture,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            wgpu::TexelCopyBufferInfo {
                buffer: &self.readback,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(self.padded_row),
                    rows_per_image: Some(self.size[1]),
                },
            },
            wgpu::Extent3d {
                width: self.size[0],
                height: self.size[1],
                depth_or_array_layers: 1,
            },
        );
        gpu.queue.submit([encoder.finish()]);
        let slice = self.readback.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        gpu.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| ViewError::Gpu(e.to_string()))?;
        rx.recv()
            .map_err(|e| ViewError::Gpu(e.to_string()))?
            .map_err(|e| ViewError::Gpu(e.to_string()))?;
        let mut rgba = Vec::with_capacity((self.size[0] * self.size[1] * 4) as usize);
        {
            let data = slice
                .get_mapped_range()
                .map_err(|e| ViewError::Gpu(e.to_string()))?;
            for row in data.chunks(self.padded_row as usize) {
                rgba.extend_from_slice(&row[..(self.size[0] * 4) as usize]);
            }
        }
        self.readback.unmap();
        gpu.check()?;
        Ok(Image {
            width: self.size[0],
            height: self.size[1],
            rgba,
        })
    }
}
