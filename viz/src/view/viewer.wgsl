// The GPU viewer's two instanced pipelines: links as thick segments and nodes as discs
// (or squares, for aggregated cells). Positions arrive in world units; the view uniform
// maps them to pixels (y down) and pixels to clip space, so widths and radii are in pixels
// at any zoom.

struct View {
    center: vec2<f32>,
    scale: f32,
    _pad: f32,
    size: vec2<f32>,
    _pad2: vec2<f32>,
};

@group(0) @binding(0) var<uniform> view: View;

fn to_px(p: vec2<f32>) -> vec2<f32> {
    return vec2<f32>(p.x - view.center.x, view.center.y - p.y) * view.scale + view.size * 0.5;
}

fn px_to_clip(px: vec2<f32>) -> vec4<f32> {
    return vec4<f32>(px.x / view.size.x * 2.0 - 1.0, 1.0 - px.y / view.size.y * 2.0, 0.0, 1.0);
}

fn corner(i: u32) -> vec2<f32> {
    var c = array<vec2<f32>, 6>(
        vec2<f32>(-1.0, -1.0), vec2<f32>(1.0, -1.0), vec2<f32>(1.0, 1.0),
        vec2<f32>(-1.0, -1.0), vec2<f32>(1.0, 1.0), vec2<f32>(-1.0, 1.0),
    );
    return c[i];
}

struct NodeOut {
    @builtin(position) pos: vec4<f32>,
    @location(0) uv: vec2<f32>,
    @location(1) @interpolate(flat) shape: u32,
    @location(2) color: vec4<f32>,
};

@vertex
fn node_vs(
    @builtin(vertex_index) vi: u32,
    @location(0) pos: vec2<f32>,
    @location(1) radius: f32,
    @location(2) shape: u32,
    @location(3) color: vec4<f32>,
) -> NodeOut {
    let c = corner(vi);
    var out: NodeOut;
    out.pos = px_to_clip(to_px(pos) + c * radius);
    out.uv = c;
    out.shape = shape;
    out.color = color;
    return out;
}

@fragment
fn node_fs(in: NodeOut) -> @location(0) vec4<f32> {
    if (in.shape == 0u && dot(in.uv, in.uv) > 1.0) {
        discard;
    }
    return in.color;
}

struct LinkOut {
    @builtin(position) pos: vec4<f32>,
    @location(0) color: vec4<f32>,
};

@vertex
fn link_vs(
    @builtin(vertex_index) vi: u32,
    @location(0) a: vec2<f32>,
    @location(1) b: vec2<f32>,
    @location(2) width: f32,
    @location(3) color: vec4<f32>,
) -> LinkOut {
    let pa = to_px(a);
    let pb = to_px(b);
    let d = pb - pa;
    let len = length(d);
    var dir = vec2<f32>(1.0, 0.0);
    if (len > 1e-6) {
        dir = d / len;
    }
    let n = vec2<f32>(-dir.y, dir.x);
    let c = corner(vi);
    let px = mix(pa, pb, (c.x + 1.0) * 0.5) + n * c.y * width * 0.5;
    var out: LinkOut;
    out.pos = px_to_clip(px);
    out.color = color;
    return out;
}

@fragment
fn link_fs(in: LinkOut) -> @location(0) vec4<f32> {
    return in.color;
}
