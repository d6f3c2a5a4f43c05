// Max-min fair allocation, round-based, in units of 2^-32 kbit/s: the GPU form of
// `traffic::maxmin::Rounds` (see maxmin.rs for the algorithm and why it is exact).
//
// Bindings (group 0), built once per problem size by gpu.rs:
//   0 links      per link: capacity (kbit/s), remaining (64 bits: two atomic words),
//                unfrozen count (atomic), not_min flag (atomic), this round's fair share
//                as a fraction (64-bit numerator)
//   1 flows_in   per flow: demand (kbit/s), priority class, path start, path end
//   2 flows_out  per flow: state (0 waiting for its class, 1 unfrozen, 2 frozen),
//                minimum share on its path this round (a fraction), allocated rate
//                (64 bits)
//   3 path_links link ids of every path, concatenated
//   4 unfrozen   flows still unfrozen, read back between batches of rounds
//   5 params     sizes and the class being served
//
// WGSL has neither u64 nor 64-bit atomics, so 64-bit values are (hi, lo) word pairs:
// `mul64` builds 32×32 products from 16-bit halves, `mul96` 64×32 products from those,
// `div64` divides by long division, and a 64-bit atomic subtraction is one on the low word
// whose borrow goes to the high word (all arithmetic is modulo 2^64, so the pair ends
// right whatever order threads subtract in). Shares are compared exactly as fractions
// remaining/count, cross-multiplied in 96 bits. Every cross-thread update is an integer
// atomic add/sub, so the result does not depend on the order threads run in: it equals
// the CPU backend's bit for bit.
//
// Workgroup size 256: a multiple of every vendor's SIMD width (32 NVIDIA, 64 AMD, 8-16 on
// lavapipe's llvmpipe), and small enough that the flow kernels' divergent path loops do
// not leave many lanes idle.

struct Link {
    capacity: u32,
    remaining_lo: atomic<u32>,
    remaining_hi: atomic<u32>,
    count: atomic<u32>,
    not_min: atomic<u32>,
    share_lo: u32,
    share_hi: u32,
    share_den: u32, // 0: no unfrozen flow, no limit
}

struct FlowIn {
    demand: u32,
    priority: u32,
    path_start: u32,
    path_end: u32,
}

struct FlowOut {
    state: u32,
    m_den: u32,
    m_lo: u32,
    m_hi: u32,
    rate_lo: u32,
    rate_hi: u32,
}

struct Params {
    flows: u32,
    links: u32,
    serving: u32,
    row: u32, // threads per row of a 2-D dispatch (workgroups in x × 256)
}

@group(0) @binding(0) var<storage, read_write> links: array<Link>;
@group(0) @binding(1) var<storage, read> flows_in: array<FlowIn>;
@group(0) @binding(2) var<storage, read_write> flows_out: array<FlowOut>;
@group(0) @binding(3) var<storage, read> path_links: array<u32>;
@group(0) @binding(4) var<storage, read_write> unfrozen: atomic<u32>;
@group(0) @binding(5) var<uniform> params: Params;

const WAITING: u32 = 0u;
const UNFROZEN: u32 = 1u;
const FROZEN: u32 = 2u;

// a × b as (high, low) 32-bit words.
fn mul64(a: u32, b: u32) -> vec2<u32> {
    let a_lo = a & 0xffffu;
    let a_hi = a >> 16u;
    let b_lo = b & 0xffffu;
    let b_hi = b >> 16u;
    let p0 = a_lo * b_lo;
    let mid = a_lo * b_hi + (p0 >> 16u);
    let mid2 = (mid & 0xffffu) + a_hi * b_lo;
    let lo = (mid2 << 16u) | (p0 & 0xffffu);
    let hi = a_hi * b_hi + (mid >> 16u) + (mid2 >> 16u);
    return vec2<u32>(hi, lo);
}

// (hi, lo) × b as (top, middle, low) 32-bit words.
fn mul96(hi: u32, lo: u32, b: u32) -> vec3<u32> {
    let l = mul64(lo, b);
    let h = mul64(hi, b);
    let mid = l.x + h.y;
    let carry = select(0u, 1u, mid < l.x);
    return vec3<u32>(h.x + carry, mid, l.y);
}

fn lt96(a: vec3<u32>, b: vec3<u32>) -> bool {
    return a.x < b.x || (a.x == b.x && (a.y < b.y || (a.y == b.y && a.z < b.z)));
}

// (a_hi, a_lo)/ad < (c_hi, c_lo)/cd, where a zero denominator means "no limit".
fn share_lt(a_hi: u32, a_lo: u32, ad: u32, c_hi: u32, c_lo: u32, cd: u32) -> bool {
    if (cd == 0u) { return ad != 0u; }
    if (ad == 0u) { return false; }
    return lt96(mul96(a_hi, a_lo, cd), mul96(c_hi, c_lo, ad));
}

// demand (kbit/s) ≤ num/den (num in 2^-32 kbit/s): demand · den ≤ num's high word, as
// `Share::admits` in maxmin.rs.
fn admits(num_hi: u32, den: u32, demand: u32) -> bool {
    if (den == 0u) { return true; }
    let p = mul64(demand, den);
    return p.x == 0u && p.y <= num_hi;
}

// ⌊(hi, lo) / d⌋ as (hi, lo), d > 0: the high word directly, the low by long division
// (the remainder stays below d; `top` keeps the bit shifted out when d ≥ 2^31).
fn div64(hi: u32, lo: u32, d: u32) -> vec2<u32> {
    let q_hi = hi / d;
    var r = hi % d;
    var q_lo = 0u;
    for (var i = 0u; i < 32u; i++) {
        let top = r >> 31u;
        r = (r << 1u) | ((lo >> (31u - i)) & 1u);
        q_lo = q_lo << 1u;
        if (top == 1u || r >= d) {
            r = r - d;
            q_lo = q_lo | 1u;
        }
    }
    return vec2<u32>(q_hi, q_lo);
}

fn index(id: vec3<u32>) -> u32 {
    return id.y * params.row + id.x;
}

fn freeze(f: u32, r_hi: u32, r_lo: u32) {
    flows_out[f].rate_lo = r_lo;
    flows_out[f].rate_hi = r_hi;
    flows_out[f].state = FROZEN;
    let fin = flows_in[f];
    for (var i = fin.path_start; i < fin.path_end; i++) {
        let l = path_links[i];
        let old = atomicSub(&links[l].remaining_lo, r_lo);
        let borrow = select(0u, 1u, old < r_lo);
        atomicSub(&links[l].remaining_hi, r_hi + borrow);
        atomicSub(&links[l].count, 1u);
    }
    atomicSub(&unfrozen, 1u);
}

// Start of an allocation: every link at full capacity, every flow waiting.
@compute @workgroup_size(256)
fn reset(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = index(id);
    if (i == 0u) {
        atomicStore(&unfrozen, 0u);
    }
    if (i < params.links) {
        atomicStore(&links[i].remaining_lo, 0u);
        atomicStore(&links[i].remaining_hi, links[i].capacity);
        atomicStore(&links[i].count, 0u);
        atomicStore(&links[i].not_min, 0u);
    }
    if (i < params.flows) {
        flows_out[i].state = WAITING;
        flows_out[i].rate_lo = 0u;
        flows_out[i].rate_hi = 0u;
    }
}

// Start of a class: its flows become unfrozen and are counted on their links.
@compute @workgroup_size(256)
fn class_init(@builtin(global_invocation_id) id: vec3<u32>) {
    let f = index(id);
    if (f >= params.flows) { return; }
    let fin = flows_in[f];
    if (fin.priority != params.serving) { return; }
    if (fin.path_start == fin.path_end) {
        flows_out[f].rate_lo = 0u;
        flows_out[f].rate_hi = fin.demand;
        flows_out[f].state = FROZEN;
        return;
    }
    if (fin.demand == 0u) {
        flows_out[f].state = FROZEN;
        return;
    }
    flows_out[f].state = UNFROZEN;
    for (var i = fin.path_start; i < fin.path_end; i++) {
        atomicAdd(&links[path_links[i]].count, 1u);
    }
    atomicAdd(&unfrozen, 1u);
}

// Round, step 1: each link's fair share of what remains.
@compute @workgroup_size(256)
fn link_share(@builtin(global_invocation_id) id: vec3<u32>) {
    let l = index(id);
    if (l >= params.links) { return; }
    links[l].share_lo = atomicLoad(&links[l].remaining_lo);
    links[l].share_hi = atomicLoad(&links[l].remaining_hi);
    links[l].share_den = atomicLoad(&links[l].count);
    atomicStore(&links[l].not_min, 0u);
}

// Round, step 2: each unfrozen flow's tightest share m; mark every link that is not the
// tightest for one of its flows, or that carries a flow about to stop at its demand.
@compute @workgroup_size(256)
fn flow_min(@builtin(global_invocation_id) id: vec3<u32>) {
    let f = index(id);
    if (f >= params.flows || flows_out[f].state != UNFROZEN) { return; }
    let fin = flows_in[f];
    var hi = 0u;
    var lo = 1u;
    var den = 0u;
    for (var i = fin.path_start; i < fin.path_end; i++) {
        let l = path_links[i];
        // Field by field: a struct holding atomics cannot be loaded whole.
        let s_hi = links[l].share_hi;
        let s_lo = links[l].share_lo;
        let s_den = links[l].share_den;
        if (share_lt(s_hi, s_lo, s_den, hi, lo, den)) {
            hi = s_hi;
            lo = s_lo;
            den = s_den;
        }
    }
    flows_out[f].m_lo = lo;
    flows_out[f].m_hi = hi;
    flows_out[f].m_den = den;
    let by_demand = admits(hi, den, fin.demand);
    for (var i = fin.path_start; i < fin.path_end; i++) {
        let l = path_links[i];
        if (by_demand
            || share_lt(hi, lo, den, links[l].share_hi, links[l].share_lo, links[l].share_den)) {
            atomicStore(&links[l].not_min, 1u);
        }
    }
}

// Round, step 3: freeze at the demand, or at the share of a bottleneck link (one that is
// the tightest for all its flows and where no flow stops at its demand this round).
@compute @workgroup_size(256)
fn flow_freeze(@builtin(global_invocation_id) id: vec3<u32>) {
    let f = index(id);
    if (f >= params.flows || flows_out[f].state != UNFROZEN) { return; }
    let fin = flows_in[f];
    let out = flows_out[f];
    if (admits(out.m_hi, out.m_den, fin.demand)) {
        freeze(f, fin.demand, 0u);
        return;
    }
    for (var i = fin.path_start; i < fin.path_end; i++) {
        if (atomicLoad(&links[path_links[i]].not_min) == 0u) {
            // A bottleneck link has unfrozen flows, so the denominator is not 0.
            let r = div64(out.m_hi, out.m_lo, out.m_den);
            freeze(f, r.x, r.y);
            return;
        }
    }
}
