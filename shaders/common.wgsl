// Shared by every family: the parameter block, the bindings, the NaN-safe
// sign tests and the element-wise entry points. The family file appended
// after this one (after shaders/words.wgsl for the families that run f16
// on u32 words) supplies `forward1`/`forward4`, `backward1`/`backward4` and
// `begin_invocation` (called once per invocation of a vec4 kernel with the
// first element of its first vec4, for per-invocation set-up); a one-line
// precision header before it defines `elem` (f32 or f16).
//
// The family functions take and return `elem`: a value passed through (x,
// or g where it is selected) is selected as it was loaded, never converted,
// so an f16 NaN keeps its payload and a signalling NaN stays signalling.
// Products are computed in f32 (an f16 input converts to f32 exactly) and
// rounded once to `elem`, the same as the CPU reference.

// Invocations per workgroup (a power of two, at least 16: the reductions
// add 16 at a time).
override WG: u32 = 256u;
// Vectors (or scalars) each invocation handles, WG apart so that
// neighbouring invocations touch neighbouring memory.
override ITEMS: u32 = 4u;

// One block for every kernel; each reads the fields it needs. All offsets
// are in elements from the start of their binding, which the host aligns
// down to the adapter's offset alignment.
struct Params {
    len: u32,        // elements in this dispatch (tiles or channels for the reductions)
    groups_x: u32,   // workgroups along x: past the per-dimension limit the grid
    x_off: u32,
    g_off: u32,
    y_off: u32,
    w_off: u32,
    slope: f32,      // Leaky ReLU's negative slope
    channels: u32,   // PReLU: weights (1 for one shared slope)
    inner: u32,      // PReLU: elements per channel run (product of the dims after the axis)
    phase: u32,      // PReLU: global index of this dispatch's first element, mod channels*inner
    first: u32,      // weight gradient: global index of the binding's first element
    base: u32,       // weight gradient: first tile (rows) or first row block (cols)
    tiles: u32,      // rows: tiles per channel run
    period: u32,     // cols: channels*inner, the columns of the tensor seen as a matrix
    p_shift: u32,    // weight gradient: global partial index minus this (mod 2^32) is
                     //   its index in the partials binding (the scratch is bound in parts)
    cols: u32,       // cols: columns in this dispatch
    rows: u32,       // cols: rows each invocation sums
    outer: u32,      // cols: rows of the tensor
    groups_y: u32,   //   spreads over y and then z
    a_count: u32,    // reduce: partials per channel = a_count * b_count,
    a_stride: u32,   //   at a * a_stride + channel * b_count + b
    b_count: u32,
    acc_mode: u32,   // reduce: 1 = start from acc[c], 2 = leave the sum in acc, not grad_w
    c_first: u32,    // reduce: the channel of this dispatch's first (channels in slabs)
    // The divisors above packed for `div_by` (src/divisor.rs).
    inner_div: vec2<u32>,
    channels_div: vec2<u32>,
    tiles_div: vec2<u32>,
    cols_div: vec2<u32>,
    b_count_div: vec2<u32>,
}

@group(0) @binding(0) var<uniform> params: Params;
// Every tensor binding is read_write, inputs too: wgpu tracks usage per
// buffer, so an input and an output in one buffer (in place, or side by side
// in an app's arena) would otherwise be a read-only/read-write conflict.
@group(0) @binding(1) var<storage, read_write> x4: array<vec4<elem>>;
@group(0) @binding(2) var<storage, read_write> g4: array<vec4<elem>>;
@group(0) @binding(3) var<storage, read_write> y4: array<vec4<elem>>;
// The same ranges seen as scalars: the tail of a vec4 dispatch, and whole
// dispatches whose offsets are not a multiple of four elements.
@group(0) @binding(4) var<storage, read_write> x1: array<elem>;
@group(0) @binding(5) var<storage, read_write> g1: array<elem>;
@group(0) @binding(6) var<storage, read_write> y1: array<elem>;

// x > 0 and x < 0 as bit tests. WGSL lets a compiler assume there is no
// NaN, so `x > 0.0` could be rewritten into something that is true for NaN;
// integer compares cannot. Positive: 0x00000001..=0x7f800000 (+inf);
// negative: 0x80000001..=0xff800000 (-inf); NaN and +-0 are neither.
fn is_positive1(x: f32) -> bool {
    let b = bitcast<i32>(x);
    return b > 0 && b <= 0x7f800000;
}

fn is_positive4(x: vec4<f32>) -> vec4<bool> {
    let b = bitcast<vec4<i32>>(x);
    return (b > vec4<i32>(0)) & (b <= vec4<i32>(0x7f800000));
}

// !(x <= 0) as a bit test: x positive or NaN, where ReLU's gradient passes
// g (PyTorch's `x <= 0 ? 0 : g`). (b - 1) wraps below 0x7fffffff only for
// 0x00000001..=0x7fffffff; negative NaNs lie above -inf.
fn relu_passes1(x: f32) -> bool {
    let b = bitcast<u32>(x);
    return (b - 1u) < 0x7fffffffu || b > 0xff800000u;
}

fn relu_passes4(x: vec4<f32>) -> vec4<bool> {
    let b = bitcast<vec4<u32>>(x);
    return ((b - vec4<u32>(1u)) < vec4<u32>(0x7fffffffu)) | (b > vec4<u32>(0xff800000u));
}

fn is_negative1(x: f32) -> bool {
    let b = bitcast<u32>(x);
    return b > 0x80000000u && b <= 0xff800000u;
}

fn is_negative4(x: vec4<f32>) -> vec4<bool> {
    let b = bitcast<vec4<u32>>(x);
    return (b > vec4<u32>(0x80000000u)) & (b <= vec4<u32>(0xff800000u));
}

// ---- Products exact down to subnormals ------------------------------------
// Many GPUs flush f32 subnormals to zero (inputs and results of a multiply),
// where the CPU reference keeps them. Where the host finds the device does,
// it compiles the kernels with EXACT_PRODUCTS: a product whose float result
// is zero or subnormal although neither operand is zero, or NaN although
// neither operand is NaN, is recomputed here in integer arithmetic with
// IEEE round-to-nearest-even. Elsewhere the check is compiled out, and so
// it is for f16: f16 operands make f32 products and sums no smaller than
// 2^-48, never subnormal (a subnormal f32 slope's products round to an f16
// zero either way).
override EXACT_PRODUCTS: bool = false;

fn magnitude_bits(v: f32) -> u32 {
    return bitcast<u32>(v) & 0x7fffffffu;
}

// Whether the float product p = a * b may have been flushed.
fn product_suspect(a: f32, b: f32, p: f32) -> bool {
    let ma = magnitude_bits(a);
    let mb = magnitude_bits(b);
    let mp = magnitude_bits(p);
    let tiny = mp < 0x00800000u && ma != 0u && mb != 0u;
    let spurious_nan = mp > 0x7f800000u && ma <= 0x7f800000u && mb <= 0x7f800000u;
    return tiny || spurious_nan;
}

// Splits a finite non-zero magnitude into a 24-bit significand with its top
// bit set and an exponent e, value = m * 2^(e - 150).
fn unpack(bits: u32) -> vec2<u32> {
    let e = bits >> 23u;
    let f = bits & 0x7fffffu;
    if e == 0u {
        let s = countLeadingZeros(f) - 8u;
        // e may go below 1: carried as 1 - s with a bias of 32.
        return vec2<u32>(f << s, 33u - s);
    }
    return vec2<u32>(f | 0x800000u, e + 32u);
}

fn mul_exact(a: f32, b: f32) -> f32 {
    let ua = bitcast<u32>(a);
    let ub = bitcast<u32>(b);
    let sign = (ua ^ ub) & 0x80000000u;
    let ma = ua & 0x7fffffffu;
    let mb = ub & 0x7fffffffu;
    // The NaNs are x86's, as the CPU reference's (src/cpu.rs `mul`): IEEE
    // leaves them open, and a fixed choice keeps this path deterministic.
    if mb > 0x7f800000u {
        return bitcast<f32>(ub | 0x00400000u); // the value's NaN, quieted
    }
    if ma > 0x7f800000u {
        return bitcast<f32>(ua | 0x00400000u);
    }
    if ma == 0x7f800000u || mb == 0x7f800000u {
        if ma == 0u || mb == 0u {
            return bitcast<f32>(0xffc00000u); // inf * 0: the default NaN
        }
        return bitcast<f32>(sign | 0x7f800000u);
    }
    if ma == 0u || mb == 0u {
        return bitcast<f32>(sign);
    }
    let pa = unpack(ma);
    let pb = unpack(mb);
    // The 48-bit product of the significands, as 12-bit pieces so that no
    // partial product overflows 32 bits: p = hi * 2^24 + lo.
    let al = pa.x & 0xfffu;
    let ah = pa.x >> 12u;
    let bl = pb.x & 0xfffu;
    let bh = pb.x >> 12u;
    let mid = ah * bl + al * bh;
    var lo = al * bl + ((mid & 0xfffu) << 12u);
    let hi = ah * bh + (mid >> 12u) + (lo >> 24u);
    lo = lo & 0xffffffu;
    // Leading bit of p at 47 or 46. value = p * 2^(ea + eb - 300), with
    // each exponent carrying a bias of 32 here.
    let top = select(46u, 47u, hi >= 0x800000u);
    let exponents = i32(pa.y) + i32(pb.y) - 64;
    // Biased result exponent if normal; below 1 the result is subnormal and
    // is rounded at 2^-149 instead.
    let biased = i32(top) + exponents - 173;
    let shift = u32(max(i32(top) - 23, 151 - exponents));
    if biased >= 255 {
        return bitcast<f32>(sign | 0x7f800000u);
    }
    if shift >= 49u {
        return bitcast<f32>(sign); // below half the smallest subnormal
    }
    // q = p >> shift, rounded to nearest even. p as 64 bits: h32:l32.
    let l32 = lo | (hi << 24u);
    let h32 = hi >> 8u;
    var q: u32;
    var round_bit: u32;
    var sticky: bool;
    if shift < 32u {
        q = (l32 >> shift) | (h32 << (32u - shift));
        round_bit = (l32 >> (shift - 1u)) & 1u;
        sticky = (l32 & ((1u << (shift - 1u)) - 1u)) != 0u;
    } else if shift == 32u {
        q = h32;
        round_bit = l32 >> 31u;
        sticky = (l32 & 0x7fffffffu) != 0u;
    } else {
        q = h32 >> (shift - 32u);
        round_bit = (h32 >> (shift - 33u)) & 1u;
        sticky = l32 != 0u || (h32 & ((1u << (shift - 33u)) - 1u)) != 0u;
    }
    if round_bit == 1u && (sticky || (q & 1u) == 1u) {
        q += 1u;
    }
    // q holds the implicit bit when normal: adding it to the exponent field
    // also carries a rounding overflow into the exponent.
    let field = u32(max(biased, 1));
    return bitcast<f32>(sign | ((field << 23u) + q - 0x800000u));
}

fn mul1(a: f32, b: f32) -> f32 {
    let p = a * b;
    if EXACT_PRODUCTS {
        if product_suspect(a, b, p) {
            return mul_exact(a, b);
        }
    }
    return p;
}

fn mul4(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
    var p = a * b;
    if EXACT_PRODUCTS {
        // One vector test first: a product can only be suspect if it is
        // zero, subnormal or NaN.
        let m = bitcast<vec4<u32>>(p) & vec4<u32>(0x7fffffffu);
        if any((m < vec4<u32>(0x00800000u)) | (m > vec4<u32>(0x7f800000u))) {
            for (var i = 0u; i < 4u; i++) {
                if product_suspect(a[i], b[i], p[i]) {
                    p[i] = mul_exact(a[i], b[i]);
                }
            }
        }
    }
    return p;
}

// n / d for a divisor the host packed as (magic, sh1 | sh2 << 8): a
// multiply-high and two shifts (src/divisor.rs has the derivation). SIMD
// software rasterisers run a vector integer division one lane at a time.
fn div_by(n: u32, d: vec2<u32>) -> u32 {
    let t = mul_hi(d.x, n);
    return (t + ((n - t) >> (d.y & 0xffu))) >> (d.y >> 8u);
}

// The high 32 bits of the 64-bit product a * b, from 16-bit halves (no
// partial sum overflows 32 bits).
fn mul_hi(a: u32, b: u32) -> u32 {
    let al = a & 0xffffu;
    let ah = a >> 16u;
    let bl = b & 0xffffu;
    let bh = b >> 16u;
    let hl = ah * bl;
    let cross = ((al * bl) >> 16u) + (hl & 0xffffu) + al * bh;
    return ah * bh + (hl >> 16u) + (cross >> 16u);
}

fn workgroup_index(wg: vec3<u32>) -> u32 {
    return (wg.z * params.groups_y + wg.y) * params.groups_x + wg.x;
}

// Vector body: ITEMS vec4s per invocation; the first len % 4 invocations of
// the grid also finish the scalar tail.
@compute @workgroup_size(WG)
fn forward_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n4 = params.len / 4u;
    let group = workgroup_index(wg);
    let base = group * WG * ITEMS + lid;
    begin_invocation(base * 4u);
    let xo = params.x_off / 4u;
    let yo = params.y_off / 4u;
    for (var k = 0u; k < ITEMS; k++) {
        let v = base + k * WG;
        if v < n4 {
            y4[yo + v] = forward4(x4[xo + v], v * 4u);
        }
    }
    let t = group * WG + lid;
    if t < params.len % 4u {
        let e = n4 * 4u + t;
        y1[params.y_off + e] = forward1(x1[params.x_off + e], e);
    }
}

@compute @workgroup_size(WG)
fn forward_scalar(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let base = workgroup_index(wg) * WG * ITEMS + lid;
    for (var k = 0u; k < ITEMS; k++) {
        let e = base + k * WG;
        if e < params.len {
            y1[params.y_off + e] = forward1(x1[params.x_off + e], e);
        }
    }
}

@compute @workgroup_size(WG)
fn backward_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n4 = params.len / 4u;
    let group = workgroup_index(wg);
    let base = group * WG * ITEMS + lid;
    begin_invocation(base * 4u);
    let xo = params.x_off / 4u;
    let go = params.g_off / 4u;
    let yo = params.y_off / 4u;
    for (var k = 0u; k < ITEMS; k++) {
        let v = base + k * WG;
        if v < n4 {
            y4[yo + v] = backward4(x4[xo + v], g4[go + v], v * 4u);
        }
    }
    let t = group * WG + lid;
    if t < params.len % 4u {
        let e = n4 * 4u + t;
        y1[params.y_off + e] = backward1(x1[params.x_off + e], g1[params.g_off + e], e);
    }
}

@compute @workgroup_size(WG)
fn backward_scalar(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let base = workgroup_index(wg) * WG * ITEMS + lid;
    for (var k = 0u; k < ITEMS; k++) {
        let e = base + k * WG;
        if e < params.len {
            y1[params.y_off + e] = backward1(x1[params.x_off + e], g1[params.g_off + e], e);
        }
    }
}
