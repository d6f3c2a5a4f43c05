//! The GPU allocation backend: the round algorithm of [`super::maxmin`] as wgpu compute
//! shaders (`maxmin.wgsl`).
//!
//! Device, pipelines and buffers are built once ([`GpuAllocator::new`]) and grown only
//! when a problem outgrows them; per tick only flow demands are uploaded (paths only when
//! routing changed), rounds are dispatched in batches, and the count of unfrozen flows is read
//! back between batches to see whether any flow is still unfrozen.

use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;

use super::TrafficError;
use super::maxmin::{AllocationProblem, Rate};

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct GpuLink {
    capacity: u32,
    remaining_lo: u32,
    remaining_hi: u32,
    count: u32,
    not_min: u32,
    share_lo: u32,
    share_hi: u32,
    share_den: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct FlowIn {
    demand: u32,
    priority: u32,
    path_start: u32,
    path_end: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct FlowOut {
    state: u32,
    m_den: u32,
    m_lo: u32,
    m_hi: u32,
    rate_lo: u32,
    rate_hi: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    flows: u32,
    links: u32,
    class: u32,
    row: u32,
}

const WORKGROUP: u32 = 256;
const MAX_X_GROUPS: u32 = 65_535;

struct Buffers {
    flows: usize,
    links: usize,
    path_len: usize,
    links_buf: wgpu::Buffer,
    flows_in: wgpu::Buffer,
    flows_out: wgpu::Buffer,
    path_links: wgpu::Buffer,
    unfrozen: wgpu::Buffer,
    params: wgpu::Buffer,
    unfrozen_read: wgpu::Buffer,
    out_read: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
}

/// A GPU and the allocation pipelines built on it.
pub struct GpuAllocator {
    device: wgpu::Device,
    queue: wgpu::Queue,
    adapter_name: String,
    layout: wgpu::BindGroupLayout,
    reset: wgpu::ComputePipeline,
    class_init: wgpu::ComputePipeline,
    link_share: wgpu::ComputePipeline,
    flow_min: wgpu::ComputePipeline,
    flow_freeze: wgpu::ComputePipeline,
    buffers: Option<Buffers>,
    paths_version: Option<u64>,
    errors: ErrorSlot,
    /// Rounds run by the last allocation.
    pub last_rounds: u32,
}

/// wgpu reports validation and device errors through a callback; they land here and are
/// turned into [`TrafficError::Gpu`] instead of wgpu's default panic.
type ErrorSlot = std::sync::Arc<std::sync::Mutex<Option<String>>>;

fn check(errors: &ErrorSlot) -> Result<(), TrafficError> {
    match errors.lock().map(|mut e| e.take()) {
        Ok(Some(e)) => Err(TrafficError::Gpu(e)),
        Ok(None) => Ok(()),
        Err(_) => Err(TrafficError::Gpu("error slot poisoned".into())),
    }
}

fn storage(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

impl GpuAllocator {
    /// Finds an adapter (any GPU, or a software Vulkan such as lavapipe) and builds the
    /// pipelines. Fails with [`TrafficError::NoAdapter`] where there is none.
    pub fn new() -> Result<Self, TrafficError> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter: false,
            compatible_surface: None,
            ..Default::default()
        }))
        .map_err(|e| TrafficError::NoAdapter(e.to_string()))?;
        let info = adapter.get_info();
        let adapter_name = format!("{} ({:?})", info.name, info.backend);
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("paraverse traffic"),
            required_features: wgpu::Features::empty(),
            required_limits: wgpu::Limits {
                max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
                max_buffer_size: limits.max_buffer_size,
                ..wgpu::Limits::default()
            },
            ..Default::default()
        }))
        .map_err(|e| TrafficError::NoAdapter(format!("{adapter_name}: {e}")))?;
        let errors = ErrorSlot::default();
        let slot = errors.clone();
        device.on_uncaptured_error(std::sync::Arc::new(move |e: wgpu::Error| {
            if let Ok(mut s) = slot.lock() {
                s.get_or_insert_with(|| e.to_string());
            }
        }));
        let module = device.create_shader_module(wgpu::include_wgsl!("maxmin.wgsl"));
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("maxmin"),
            entries: &[
                storage(0, false),
                storage(1, true),
                storage(2, false),
                storage(3, true),
                storage(4, false),
                wgpu::BindGroupLayoutEntry {
                    binding: 5,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                },
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("maxmin"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = |entry: &str| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: Some(&pipeline_layout),
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        let allocator = Self {
            reset: pipeline("reset"),
            class_init: pipeline("class_init"),
            link_share: pipeline("link_share"),
            flow_min: pipeline("flow_min"),
            flow_freeze: pipeline("flow_freeze"),
            device,
            queue,
            adapter_name,
            layout,
            buffers: None,
            paths_version: None,
            errors,
            last_rounds: 0,
        };
        check(&allocator.errors)?;
        Ok(allocator)
    }

    /// The adapter's name and API, e.g. `llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan)`.
    pub fn adapter_name(&self) -> &str {
        &self.adapter_name
    }

    fn buffer(&self, label: &str, bytes: usize, usage: wgpu::BufferUsages) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: (bytes.max(16) as u64).next_multiple_of(16),
            usage,
            mapped_at_creation: false,
        })
    }

    fn ensure_buffers(&mut self, flows: usize, links: usize, path_len: usize) {
        if let Some(b) = &self.buffers
            && b.flows >= flows
            && b.links >= links
            && b.path_len >= path_len
        {
            return;
        }
        // Grow with headroom so that flows added tick by tick do not rebuild every tick.
        let (flows, links, path_len) = (flows * 5 / 4 + 16, links + 16, path_len * 5 / 4 + 64);
        use wgpu::BufferUsages as U;
        let links_buf = self.buffer(
            "links",
            links * size_of::<GpuLink>(),
            U::STORAGE | U::COPY_DST,
        );
        let flows_in = self.buffer("flows_in", flows * 16, U::STORAGE | U::COPY_DST);
        let flows_out = self.buffer(
            "flows_out",
            flows * size_of::<FlowOut>(),
            U::STORAGE | U::COPY_SRC,
        );
        let path_links = self.buffer("path_links", path_len * 4, U::STORAGE | U::COPY_DST);
        let unfrozen = self.buffer("unfrozen", 4, U::STORAGE | U::COPY_SRC);
        let params = self
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("params"),
                contents: bytemuck::bytes_of(&Params {
                    flows: 0,
                    links: 0,
                    class: 0,
                    row: 0,
                }),
                usage: U::UNIFORM | U::COPY_DST,
            });
        let unfrozen_read = self.buffer("unfrozen_read", 4, U::MAP_READ | U::COPY_DST);
        let out_read = self.buffer(
            "out_read",
            flows * size_of::<FlowOut>(),
            U::MAP_READ | U::COPY_DST,
        );
        fn entry(binding: u32, buffer: &wgpu::Buffer) -> wgpu::BindGroupEntry<'_> {
            wgpu::BindGroupEntry {
                binding,
                resource: buffer.as_entire_binding(),
            }
        }
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("maxmin"),
            layout: &self.layout,
            entries: &[
                entry(0, &links_buf),
                entry(1, &flows_in),
                entry(2, &flows_out),
                entry(3, &path_links),
                entry(4, &unfrozen),
                entry(5, &params),
            ],
        });
        self.buffers = Some(Buffers {
            flows,
            links,
            path_len,
            links_buf,
            flows_in,
            flows_out,
            path_links,
            unfrozen,
            params,
            unfrozen_read,
            out_read,
            bind_group,
        });
        self.paths_version = None;
    }

    /// Workgroups to cover `n` threads, as a 2-D grid when one row is not enough.
    fn grid(n: usize) -> (u32, u32) {
        let groups = (n as u32).div_ceil(WORKGROUP).max(1);
        if groups <= MAX_X_GROUPS {
            (groups, 1)
        } else {
            (MAX_X_GROUPS, groups.div_ceil(MAX_X_GROUPS))
        }
    }

    fn read(&self, buffer: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>, TrafficError> {
        let slice = buffer.slice(..bytes);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| TrafficError::Gpu(e.to_string()))?;
        rx.recv()
            .map_err(|e| TrafficError::Gpu(e.to_string()))?
            .map_err(|e| TrafficError::Gpu(e.to_string()))?;
        let data = slice
            .get_mapped_range()
            .map_err(|e| TrafficError::Gpu(e.to_string()))?
            .to_vec();
        buffer.unmap();
        check(&self.errors)?;
        Ok(data)
    }

    /// Allocates `p` into `rate` (2^-32 kbit/s). `paths_version` changes whenever paths or
    /// capacities do, so unchanged paths are not uploaded again.
    pub fn allocate(
        &mut self,
        p: &AllocationProblem<'_>,
        paths_version: u64,
        rate: &mut [Rate],
    ) -> Result<(), TrafficError> {
        // Long on purpose: one allocation in the order the device sees it (upload, reset,
        // each class's rounds until no flow is unfrozen, read back); the buffers, the grid
        // and the dispatch helper span all of it.
        let (flows, links) = (p.flows(), p.capacity.len());
        let max_threads = (MAX_X_GROUPS as usize) * (MAX_X_GROUPS as usize) * WORKGROUP as usize;
        if flows.max(links) > max_threads {
            return Err(TrafficError::Gpu(format!(
                "{flows} flows exceed one dispatch"
            )));
        }
        self.ensure_buffers(flows, links, p.path_links.len());
        let b = self.buffers.as_ref().expect("buffers built above");
        if self.paths_version != Some(paths_version) {
            let gl: Vec<GpuLink> = p
                .capacity
                .iter()
                .map(|&capacity| GpuLink {
                    capacity,
                    ..GpuLink::zeroed()
                })
                .collect();
            self.queue
                .write_buffer(&b.links_buf, 0, bytemuck::cast_slice(&gl));
            if !p.path_links.is_empty() {
                self.queue
                    .write_buffer(&b.path_links, 0, bytemuck::cast_slice(p.path_links));
            }
            self.paths_version = Some(paths_version);
        }
        let fin: Vec<FlowIn> = (0..flows)
            .map(|f| FlowIn {
                demand: p.demand[f],
                priority: u32::from(p.priority[f]),
                path_start: p.path_offsets[f],
                path_end: p.path_offsets[f + 1],
            })
            .collect();
        if !fin.is_empty() {
            self.queue
                .write_buffer(&b.flows_in, 0, bytemuck::cast_slice(&fin));
        }
        // One grid serves every kernel: wide enough for the larger of flows and links;
        // threads past a kernel's count return at once.
        let row_grid = Self::grid(flows.max(links));
        let params = |class: u8| Params {
            flows: flows as u32,
            links: links as u32,
            class: u32::from(class),
            row: row_grid.0 * WORKGROUP,
        };
        let dispatch = |pass: &mut wgpu::ComputePass<'_>, pipeline: &wgpu::ComputePipeline| {
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &b.bind_group, &[]);
            pass.dispatch_workgroups(row_grid.0, row_grid.1, 1);
        };

        self.queue
            .write_buffer(&b.params, 0, bytemuck::bytes_of(&params(0)));
        let mut enc = self.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            dispatch(&mut pass, &self.reset);
        }
        self.queue.submit([enc.finish()]);

        self.last_rounds = 0;
        for class in p.classes() {
            self.queue
                .write_buffer(&b.params, 0, bytemuck::bytes_of(&params(class)));
            let mut batch = 2u32;
            let mut first = true;
            loop {
                let mut enc = self.device.create_command_encoder(&Default::default());
                {
                    let mut pass = enc.begin_compute_pass(&Default::default());
                    if first {
                        dispatch(&mut pass, &self.class_init);
                    }
                    for _ in 0..batch {
                        dispatch(&mut pass, &self.link_share);
                        dispatch(&mut pass, &self.flow_min);
                        dispatch(&mut pass, &self.flow_freeze);
                    }
                }
                enc.copy_buffer_to_buffer(&b.unfrozen, 0, &b.unfrozen_read, 0, 4);
                self.queue.submit([enc.finish()]);
                first = false;
                self.last_rounds += batch;
                let count = self.read(&b.unfrozen_read, 4)?;
                let unfrozen = u32::from_le_bytes(count[..4].try_into().expect("4 bytes"));
                if unfrozen == 0 {
                    break;
                }
                if self.last_rounds > 4 * (flows as u32 + links as u32) + 64 {
                    return Err(TrafficError::Gpu(format!(
                        "allocation did not converge after {} rounds",
                        self.last_rounds
                    )));
                }
                batch = (batch * 2).min(32);
            }
        }
        let bytes = (flows * size_of::<FlowOut>()) as u64;
        if bytes > 0 {
            let mut enc = self.device.create_command_encoder(&Default::default());
            enc.copy_buffer_to_buffer(&b.flows_out, 0, &b.out_read, 0, bytes);
            self.queue.submit([enc.finish()]);
            let out = self.read(&b.out_read, bytes)?;
            let out: &[FlowOut] = bytemuck::cast_slice(&out);
            for (r, o) in rate.iter_mut().zip(out) {
                *r = (Rate::from(o.rate_hi) << 32) | Rate::from(o.rate_lo);
            }
        }
        Ok(())
    }
}
