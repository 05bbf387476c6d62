// ReLU: y = x < 0 ? 0 : x (NaN stays NaN, -inf gives 0);
// grad_x = x > 0 ? g : 0 (zero at x = 0, and where x is NaN).

fn begin_invocation(first: u32) {}

fn forward1(x: f32, e: u32) -> f32 {
    return select(x, 0.0, is_negative1(x));
}

fn forward4(x: vec4<f32>, e: u32) -> vec4<f32> {
    return select(x, vec4<f32>(0.0), is_negative4(x));
}

fn backward1(x: f32, g: f32, e: u32) -> f32 {
    return select(0.0, g, is_positive1(x));
}

fn backward4(x: vec4<f32>, g: vec4<f32>, e: u32) -> vec4<f32> {
    return select(vec4<f32>(0.0), g, is_positive4(x));
}

// ---- f16 on the raw bits ---------------------------------------------------
// ReLU needs no arithmetic: it keeps or zeroes each value by its sign and
// class. On f16 data these kernels read two halves per u32 word, eight per
// vec4<u32> load, with no conversion: a SIMD software rasteriser pays for
// each load far more than for the bit operations, and converting every
// value to f32 and back is what made its f16 path slower than f32. The host
// uses them where every offset is a multiple of eight halves and the length
// even; `len` and the offsets are then in words.
@group(0) @binding(10) var<storage, read_write> xw4: array<vec4<u32>>;
@group(0) @binding(11) var<storage, read_write> gw4: array<vec4<u32>>;
@group(0) @binding(12) var<storage, read_write> yw4: array<vec4<u32>>;
@group(0) @binding(13) var<storage, read_write> xw1: array<u32>;
@group(0) @binding(14) var<storage, read_write> gw1: array<u32>;
@group(0) @binding(15) var<storage, read_write> yw1: array<u32>;

// 0xffff over the low half (bits 0..16) of each word where `lo` is true and
// over the high half where `hi` is.
fn half_mask(lo: vec4<bool>, hi: vec4<bool>) -> vec4<u32> {
    return select(vec4<u32>(0u), vec4<u32>(0x0000ffffu), lo) | select(vec4<u32>(0u), vec4<u32>(0xffff0000u), hi);
}

// Negative f16: 0x8001..=0xfc00 (-inf); NaN and -0 are not.
fn negative_halves(w: vec4<u32>) -> vec4<u32> {
    let lo = w & vec4<u32>(0xffffu);
    let hi = w >> vec4<u32>(16u);
    let lo_negative = (lo > vec4<u32>(0x8000u)) & (lo <= vec4<u32>(0xfc00u));
    let hi_negative = (hi > vec4<u32>(0x8000u)) & (hi <= vec4<u32>(0xfc00u));
    return half_mask(lo_negative, hi_negative);
}

// Positive f16: 0x0001..=0x7c00 (+inf); NaN and +0 are not.
fn positive_halves(w: vec4<u32>) -> vec4<u32> {
    let lo = w & vec4<u32>(0xffffu);
    let hi = w >> vec4<u32>(16u);
    let lo_positive = (lo > vec4<u32>(0u)) & (lo <= vec4<u32>(0x7c00u));
    let hi_positive = (hi > vec4<u32>(0u)) & (hi <= vec4<u32>(0x7c00u));
    return half_mask(lo_positive, hi_positive);
}

// ITEMS vec4<u32>s per invocation; the first len % 4 invocations of the
// grid also finish the words after the last whole vec4.
@compute @workgroup_size(WG)
fn forward_bits(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n4 = params.len / 4u;
    let group = workgroup_index(wg);
    let base = group * WG * ITEMS + lid;
    let xo = params.x_off / 4u;
    let yo = params.y_off / 4u;
    for (var k = 0u; k < ITEMS; k++) {
        let v = base + k * WG;
        if v < n4 {
            let x = xw4[xo + v];
            yw4[yo + v] = x & ~negative_halves(x);
        }
    }
    let t = group * WG + lid;
    if t < params.len % 4u {
        let e = n4 * 4u + t;
        let x = xw1[params.x_off + e];
        yw1[params.y_off + e] = x & ~negative_halves(vec4<u32>(x)).x;
    }
}

@compute @workgroup_size(WG)
fn backward_bits(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n4 = params.len / 4u;
    let group = workgroup_index(wg);
    let base = group * WG * ITEMS + lid;
    let xo = params.x_off / 4u;
    let go = params.g_off / 4u;
    let yo = params.y_off / 4u;
    for (var k = 0u; k < ITEMS; k++) {
        let v = base + k * WG;
        if v < n4 {
            yw4[yo + v] = gw4[go + v] & positive_halves(xw4[xo + v]);
        }
    }
    let t = group * WG + lid;
    if t < params.len % 4u {
        let e = n4 * 4u + t;
        let x = xw1[params.x_off + e];
        yw1[params.y_off + e] = gw1[params.g_off + e] & positive_halves(vec4<u32>(x)).x;
    }
}
