// The element-wise entry points every family shares. The family's part of
// the module supplies `struct Params`, whose first member is
// `geometry: Geometry`, and the per-element functions the entry points
// call: `forward1`/`forward4`, `backward1`/`backward4` (an element or a
// vec4 of elements and the index of the first, relative to the dispatch)
// and `begin_invocation` (called once per invocation of a vec4 kernel with
// the first element of its first vec4, for per-invocation set-up). A
// one-line precision header before it all defines `elem` (f32 or f16).
//
// Values are loaded and stored as `elem`, never converted on the way: a
// value passed through keeps its bits (f16 NaN payloads, signalling NaNs).

// Invocations per workgroup (a power of two, at least 16: reductions add
// 16 at a time).
override WG: u32 = 256u;
// Vectors (or scalars) each invocation handles, WG apart so that
// neighbouring invocations touch neighbouring memory (a GPU's lanes load
// together).
override ITEMS: u32 = 4u;
// ITEM_STEP: how many vectors (or scalars) apart an invocation's ITEMS lie
// where not WG apart (0): a power of two that divides WG. ITEM_STEP
// neighbouring invocations take a tile of ITEMS * ITEM_STEP, so that a
// workgroup still covers ITEMS * WG from its first. A CPU adapter takes
// them side by side (1), or as close as a family's per-invocation set-up
// allows (PReLU's weights repeat every ITEM_STEP vec4s channels-last). A
// software rasteriser runs a SIMD group's lanes one after another for
// each access; WG apart, one group touched ITEMS stretches 16 * WG bytes
// apart in every tensor, side by side it touches one (lavapipe at 16M: a
// copy-only kernel of three streams 27.2 -> 17.3 ms; BENCHMARKS.md).
override ITEM_STEP: u32 = 0u;

// ITEM_LINES: where not 0 (a CPU adapter, outside the mask layout's
// blocks), an invocation's ITEMS lie in ITEM_LINES lines, line_items()
// of them side by side in each; LINE_INVOCATIONS neighbouring invocations
// (a SIMD group of lavapipe's at 256 bits) take a line together, line
// after line, each at the same places in every line. Where a family's
// per-item values repeat every line (PReLU's weights channels-last, their
// period dividing a line), an invocation's item j of every line shares
// them, and the SIMD group still streams one stretch. lavapipe at
// 16M f32, channels-last 256 channels, × the 2-stream floor: one load of
// the weights a vec4 1.315, held for eight lines 1.045 (BENCHMARKS.md).
override ITEM_LINES: u32 = 0u;
const LINE_INVOCATIONS: u32 = 8u;

// An invocation's lines of items (1 where not in lines), and its items in
// each. The kernels loop over both: lavapipe unrolls the inner loop, so
// that `item` is a constant index (PReLU's forward in lines, channels-last
// 256, × the floor: one loop of 64 read 1.155, these two 1.045;
// BENCHMARKS.md).
fn item_lines() -> u32 {
    return max(ITEM_LINES, 1u);
}

fn line_items() -> u32 {
    return ITEMS / item_lines();
}

// How far apart an invocation's items lie.
fn item_step() -> u32 {
    return select(ITEM_STEP, WG, ITEM_STEP == 0u);
}

// An invocation's item j of a line (a vec4 or a scalar), from its first.
fn item_at(first: u32, line: u32, j: u32) -> u32 {
    if ITEM_LINES > 0u {
        return first + line * LINE_INVOCATIONS * line_items() + j;
    }
    return first + j * item_step();
}

// Which of its ITEMS (of a line's, in lines) an invocation's vec4 kernel
// is at when it calls `forward4` or `backward4`: a family may hold values
// for all of an invocation's items from `begin_invocation` on and pick one
// by it.
// lavapipe unrolls the loops (a copy unrolled by hand read the same), so
// the pick is a constant index, not private memory indexed at run time.
var<private> item: u32;
// And in lines, which of its lines (0 where not in lines): a family whose
// values repeat every few lines picks among them by it, with a select on
// values picked at constant indices.
var<private> item_line: u32;

// The first of an invocation's items, counted from the dispatch's first.
fn first_item(group: u32, lid: u32) -> u32 {
    let g = group * WG + lid;
    if ITEM_LINES > 0u {
        return g / LINE_INVOCATIONS * LINE_INVOCATIONS * ITEMS + g % LINE_INVOCATIONS * line_items();
    }
    let step = item_step();
    return g / step * ITEMS * step + g % step;
}

// SAME_OFFSETS: every tensor at one offset in its binding (each bound from
// the same element of its buffer, or in place), so that one index finds a
// vec4 in all of them. lavapipe works out each lane's address and bounds
// test once per index, not once per access (the PReLU walks' own
// SAME_OFFSETS, src/prelu/weight_grad.wgsl, has the measurement).
override SAME_OFFSETS: bool = false;

// Where a dispatch's elements are: offsets in elements from the start of
// each binding, which the host aligns down to the adapter's alignment.
struct Geometry {
    len: u32,       // elements in this dispatch
    groups_x: u32,  // workgroups along x and y: past the per-dimension
    groups_y: u32,  //   limit the grid spreads over y and z
    x_off: u32,
    g_off: u32,
    y_off: u32,
    m_off: u32,     // the mask's, in u32 words (src/engine/masked.wgsl)
    pad: u32,       // (a struct member of a uniform block takes 16-byte multiples)
}

@group(0) @binding(0) var<uniform> params: Params;

// The offsets of x, g and y in vec4s (of elements, of f16's u32 words, or
// over the blocks of the mask layout of f16's vec2<u32>s), one value for
// all three where SAME_OFFSETS.
struct Vec4Offsets {
    x: u32,
    g: u32,
    y: u32,
}

fn vec4_offsets() -> Vec4Offsets {
    let geo = params.geometry;
    let y = geo.y_off / 4u;
    if SAME_OFFSETS {
        return Vec4Offsets(y, y, y);
    }
    return Vec4Offsets(geo.x_off / 4u, geo.g_off / 4u, y);
}

fn flat_workgroup(wg: vec3<u32>) -> u32 {
    return workgroup_index(wg, params.geometry.groups_x, params.geometry.groups_y);
}

// Vector body: ITEMS vec4s per invocation; the first len % 4 invocations of
// the grid also finish the scalar tail.
@compute @workgroup_size(WG)
fn forward_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let geo = params.geometry;
    let n4 = geo.len / 4u;
    let group = flat_workgroup(wg);
    let base = first_item(group, lid);
    begin_invocation(base * 4u);
    let o = vec4_offsets();
    for (var line = 0u; line < item_lines(); line++) {
        for (var j = 0u; j < line_items(); j++) {
            item = j;
            item_line = line;
            let v = item_at(base, line, j);
            if v < n4 {
                y4[o.y + v] = forward4(x4[o.x + v], v * 4u);
            }
        }
    }
    let t = group * WG + lid;
    if t < geo.len % 4u {
        let e = n4 * 4u + t;
        y1[geo.y_off + e] = forward1(x1[geo.x_off + e], e);
    }
}

@compute @workgroup_size(WG)
fn forward_scalar(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let geo = params.geometry;
    let base = first_item(flat_workgroup(wg), lid);
    for (var line = 0u; line < item_lines(); line++) {
        for (var j = 0u; j < line_items(); j++) {
            let e = item_at(base, line, j);
            if e < geo.len {
                y1[geo.y_off + e] = forward1(x1[geo.x_off + e], e);
            }
        }
    }
}

@compute @workgroup_size(WG)
fn backward_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let geo = params.geometry;
    let n4 = geo.len / 4u;
    let group = flat_workgroup(wg);
    let base = first_item(group, lid);
    begin_invocation(base * 4u);
    let o = vec4_offsets();
    for (var line = 0u; line < item_lines(); line++) {
        for (var j = 0u; j < line_items(); j++) {
            item = j;
            item_line = line;
            let v = item_at(base, line, j);
            if v < n4 {
                y4[o.y + v] = output4(o.y + v, backward4(x4[o.x + v], g4[o.g + v], v * 4u));
            }
        }
    }
    let t = group * WG + lid;
    if t < geo.len % 4u {
        let e = n4 * 4u + t;
        y1[geo.y_off + e] = output1(geo.y_off + e, backward1(x1[geo.x_off + e], g1[geo.g_off + e], e));
    }
}

@compute @workgroup_size(WG)
fn backward_scalar(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let geo = params.geometry;
    let base = first_item(flat_workgroup(wg), lid);
    for (var line = 0u; line < item_lines(); line++) {
        for (var j = 0u; j < line_items(); j++) {
            let e = item_at(base, line, j);
            if e < geo.len {
                y1[geo.y_off + e] = output1(geo.y_off + e, backward1(x1[geo.x_off + e], g1[geo.g_off + e], e));
            }
        }
    }
}
