// PReLU with one weight per channel (or one shared weight):
//   y = x > 0 ? x : w[c] * x;   grad_x = x > 0 ? g : w[c] * g;
//   grad_w[c] = sum over the channel of (x > 0 ? 0 : x * g).
// The channel of element e is ((phase + e) / inner) % channels, where the
// host passes `phase` so that a dispatch may start anywhere in the tensor.
//
// The weight gradient is reduced on the GPU in two passes with a fixed
// order, so it is bit-identical from run to run (no float atomics):
//   1. `weight_grad_rows` or `weight_grad_cols` writes grad_x and one f32
//      partial sum per tile into `partials`;
//   2. `weight_grad_reduce_*` sums each channel's partials in a fixed order
//      and rounds once to `elem`.
// Partials too many for one binding are written and read in parts: pass 2
// then runs once per slab of them, each slab's sums carried in `acc` (f32)
// to the next, in a fixed order too.

@group(0) @binding(7) var<storage, read_write> w1: array<elem>;
@group(0) @binding(8) var<storage, read_write> partials: array<f32>;
@group(0) @binding(9) var<storage, read_write> grad_w: array<elem>;
// The partials seen as vec4s, for pass 2 where they lie in fours.
@group(0) @binding(16) var<storage, read_write> partials4: array<vec4<f32>>;
// Per-channel sums carried from one slab of partials to the next.
@group(0) @binding(17) var<storage, read_write> acc: array<f32>;

var<workgroup> scratch: array<f32, WG>;

fn weight_at(e: u32) -> f32 {
    let run = div_by(params.phase + e, params.inner_div);
    return f32(w1[params.w_off + channel_of_run(run)]);
}

// run % channels.
fn channel_of_run(run: u32) -> u32 {
    return run - div_by(run, params.channels_div) * params.channels;
}

// How a vec4 kernel fetches weights, set by the host from the tensor's
// layout. Every weight is a load, and a software rasteriser pays for each
// load much more than for the arithmetic around it, so the kernels load as
// few as the layout allows. Pipeline constants, not parameters, so that the
// other paths are compiled out: SIMD software rasterisers run both sides of
// a branch.
//
// WEIGHT_PER_VEC4: runs are a multiple of four elements long, so the four
// elements of a vec4 share one channel (one load, not four).
override WEIGHT_PER_VEC4: bool = false;
// WEIGHTS_REPEAT: every item of an invocation has the weights of its first
// one, because the workgroup's span lies in one channel run (runs a whole
// number of spans long), because the channel pattern repeats every
// 4 * WG elements (channels-last with few channels) or because one weight
// is shared: loaded once per invocation.
override WEIGHTS_REPEAT: bool = false;

var<private> first_weights: vec4<f32>;

fn vec4_weights(e: u32) -> vec4<f32> {
    if WEIGHT_PER_VEC4 {
        return vec4<f32>(weight_at(e));
    }
    return vec4<f32>(weight_at(e), weight_at(e + 1u), weight_at(e + 2u), weight_at(e + 3u));
}

fn begin_invocation(first: u32) {
    if WEIGHTS_REPEAT {
        first_weights = vec4_weights(first);
    }
}

fn weights4(e: u32) -> vec4<f32> {
    if WEIGHTS_REPEAT {
        return first_weights;
    }
    return vec4_weights(e);
}

fn forward1(x: elem, e: u32) -> elem {
    let v = f32(x);
    return select(elem(mul1(weight_at(e), v)), x, is_positive1(v));
}

fn forward4(x: vec4<elem>, e: u32) -> vec4<elem> {
    let v = vec4<f32>(x);
    return select(vec4<elem>(mul4(weights4(e), v)), x, is_positive4(v));
}

fn backward1(x: elem, g: elem, e: u32) -> elem {
    return select(elem(mul1(weight_at(e), f32(g))), g, is_positive1(f32(x)));
}

fn backward4(x: vec4<elem>, g: vec4<elem>, e: u32) -> vec4<elem> {
    let scaled = vec4<elem>(mul4(weights4(e), vec4<f32>(g)));
    return select(scaled, g, is_positive4(vec4<f32>(x)));
}

// grad_x for the element at binding-relative index i, whose channel's weight
// is w; returns its contribution to that channel's grad_w.
fn backward_element(i: u32, w: f32) -> f32 {
    let g = g1[params.g_off + i];
    let x = f32(x1[params.x_off + i]);
    let positive = is_positive1(x);
    y1[params.y_off + i] = select(elem(mul1(w, f32(g))), g, positive);
    return select(mul1(x, f32(g)), 0.0, positive);
}

// Whether every operand's offset in its binding is a multiple of four
// elements, so that the kernels that take four elements at a time load and
// store them as vec4s. Where not (a tensor at an odd offset), the same
// kernels go element by element through the scalar views and sum in the
// same order: which kernel runs, and so the weight gradient's bits, depend
// on the shape alone, never on where the tensor sits.
override ALIGNED: bool = true;

// backward_element for the four elements at binding-relative index i (a
// multiple of four where ALIGNED) with weights w; returns their four
// contributions.
fn backward_elements4(i: u32, w: vec4<f32>) -> vec4<f32> {
    var xe: vec4<elem>;
    var ge: vec4<elem>;
    if ALIGNED {
        xe = x4[(params.x_off + i) / 4u];
        ge = g4[(params.g_off + i) / 4u];
    } else {
        let xo = params.x_off + i;
        let go = params.g_off + i;
        xe = vec4<elem>(x1[xo], x1[xo + 1u], x1[xo + 2u], x1[xo + 3u]);
        ge = vec4<elem>(g1[go], g1[go + 1u], g1[go + 2u], g1[go + 3u]);
    }
    let x = vec4<f32>(xe);
    let g = vec4<f32>(ge);
    let positive = is_positive4(x);
    let grad_x = select(vec4<elem>(mul4(w, g)), ge, positive);
    if ALIGNED {
        y4[(params.y_off + i) / 4u] = grad_x;
    } else {
        let yo = params.y_off + i;
        y1[yo] = grad_x.x;
        y1[yo + 1u] = grad_x.y;
        y1[yo + 2u] = grad_x.z;
        y1[yo + 3u] = grad_x.w;
    }
    return select(mul4(x, g), vec4<f32>(0.0), positive);
}

// Sums for the weight gradient that keep subnormals where the device
// flushes them (EXACT_PRODUCTS): an addition with a subnormal operand or a
// zero-or-subnormal result from non-zero operands is redone with both
// operands scaled by 2^64 (exactly, in the exponent bits), where nothing is
// subnormal, and the sum scaled back. The scaled-back result may round
// twice, by at most one unit of 2^-149: well inside the gradient's tolerance.
fn is_subnormal(v: f32) -> bool {
    let m = magnitude_bits(v);
    return m != 0u && m < 0x00800000u;
}

fn scale_up_64(v: f32) -> f32 {
    let bits = bitcast<u32>(v);
    let sign = bits & 0x80000000u;
    let m = bits & 0x7fffffffu;
    if m == 0u {
        return v;
    }
    if m < 0x00800000u {
        // m * 2^-149 with its leading bit at p: 2^(p - 149) * 1.f.
        let p = 31u - countLeadingZeros(m);
        return bitcast<f32>(sign | ((p + 42u) << 23u) | ((m << (23u - p)) & 0x7fffffu));
    }
    return bitcast<f32>(bits + (64u << 23u));
}

fn scale_down_64(v: f32) -> f32 {
    let bits = bitcast<u32>(v);
    let sign = bits & 0x80000000u;
    let e = (bits >> 23u) & 0xffu;
    if e == 0u || e == 255u {
        return v;
    }
    if e > 64u {
        return bitcast<f32>(bits - (64u << 23u));
    }
    // Subnormal result: shift the significand right, rounding to even.
    let significand = (bits & 0x7fffffu) | 0x800000u;
    let shift = 65u - e;
    if shift > 24u {
        return bitcast<f32>(sign);
    }
    var q = significand >> shift;
    let round_bit = (significand >> (shift - 1u)) & 1u;
    let sticky = (significand & ((1u << (shift - 1u)) - 1u)) != 0u;
    if round_bit == 1u && (sticky || (q & 1u) == 1u) {
        q += 1u;
    }
    return bitcast<f32>(sign | q);
}

fn add1(a: f32, b: f32) -> f32 {
    let s = a + b;
    if EXACT_PRODUCTS {
        let big = max(magnitude_bits(a), magnitude_bits(b)) >= (191u << 23u);
        let suspect = is_subnormal(a) || is_subnormal(b)
            || (magnitude_bits(s) < 0x00800000u && (magnitude_bits(a) | magnitude_bits(b)) != 0u && magnitude_bits(s) != 0u)
            || (magnitude_bits(s) == 0u && bitcast<u32>(a) != (bitcast<u32>(b) ^ 0x80000000u) && (magnitude_bits(a) | magnitude_bits(b)) != 0u);
        if suspect && !big {
            return scale_down_64(scale_up_64(a) + scale_up_64(b));
        }
    }
    return s;
}

fn add4(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
    if EXACT_PRODUCTS {
        return vec4<f32>(add1(a.x, b.x), add1(a.y, b.y), add1(a.z, b.z), add1(a.w, b.w));
    }
    return a + b;
}

// Sum of one value per invocation, valid on lid 0, in an order fixed by lid,
// never by timing: each of the first WG / 16 invocations adds 16
// neighbours, then lid 0 adds those. Two barriers rather than a tree's
// log2(WG) + 1: a software rasteriser suspends and resumes every invocation
// at each barrier, and that, not the additions, is what a tree costs there.
fn workgroup_sum(lid: u32, value: f32) -> f32 {
    scratch[lid] = value;
    workgroupBarrier();
    if lid < WG / 16u {
        let first = lid * 16u;
        var s = scratch[first];
        for (var i = 1u; i < 16u; i++) {
            s = add1(s, scratch[first + i]);
        }
        scratch[first] = s;
    }
    workgroupBarrier();
    var total = 0.0;
    if lid == 0u {
        total = scratch[0];
        for (var r = 1u; r < WG / 16u; r++) {
            total = add1(total, scratch[r * 16u]);
        }
    }
    return total;
}

// Pass 1 where channel runs are long (inner >= a tile), or where a row of the
// tensor is too long to bind: a workgroup takes a
// tile of WG * ITEMS consecutive elements inside one run (one channel).
// Tile t of run r is global tile r * tiles + t, and its partial goes there.
@compute @workgroup_size(WG)
fn weight_grad_rows(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let local_tile = workgroup_index(wg);
    if local_tile >= params.len {
        return;
    }
    let tile = params.base + local_tile;
    let run = div_by(tile, params.tiles_div);
    let run_start = run * params.inner;
    let start = run_start + (tile - run * params.tiles) * (WG * ITEMS);
    let end = min(start + WG * ITEMS, run_start + params.inner);
    let w = f32(w1[params.w_off + channel_of_run(run)]);
    var sum = 0.0;
    for (var k = 0u; k < ITEMS; k++) {
        let e = start + k * WG + lid;
        if e < end {
            sum = add1(sum, backward_element(e - params.first, w));
        }
    }
    let total = workgroup_sum(lid, sum);
    if lid == 0u {
        partials[tile - params.p_shift] = total;
    }
}

// `weight_grad_rows` four elements at a time, where runs are a multiple of
// four elements long: a tile is WG * ITEMS
// vec4s, and each invocation leaves its own partial, at tile * WG + lid.
// Its tile set-up repeats weight_grad_rows' on purpose: a shared helper
// returning a struct measured slower on lavapipe.
@compute @workgroup_size(WG)
fn weight_grad_rows_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let local_tile = workgroup_index(wg);
    if local_tile >= params.len {
        return;
    }
    let tile = params.base + local_tile;
    let run = div_by(tile, params.tiles_div);
    let run_start = run * params.inner;
    let start = run_start + (tile - run * params.tiles) * (WG * ITEMS * 4u);
    let end = min(start + WG * ITEMS * 4u, run_start + params.inner);
    let w = f32(w1[params.w_off + channel_of_run(run)]);
    var sum = vec4<f32>(0.0);
    for (var k = 0u; k < ITEMS; k++) {
        let e = start + (k * WG + lid) * 4u;
        if e < end {
            sum = add4(sum, backward_elements4(e - params.first, vec4<f32>(w)));
        }
    }
    // One partial per invocation, no workgroup reduction: barriers are what
    // a software rasteriser pays most for, and pass 2 sums these anyway.
    partials[tile * WG + lid - params.p_shift] = add1(add1(sum.x, sum.y), add1(sum.z, sum.w));
}

// Pass 1 where channel runs are short (channels-last, small images): the
// tensor is a matrix of `outer` rows by `period` = channels * inner columns;
// an invocation sums `rows` rows of one column, neighbouring invocations
// taking neighbouring columns. Row block b of column q goes to partial
// b * period + q.
@compute @workgroup_size(WG)
fn weight_grad_cols(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = workgroup_index(wg) * WG + lid;
    if t >= params.len {
        return;
    }
    let block_in_dispatch = div_by(t, params.cols_div);
    let q = t - block_in_dispatch * params.cols;
    let block = params.base + block_in_dispatch;
    let w = f32(w1[params.w_off + div_by(q, params.inner_div)]);
    let row_start = block * params.rows;
    let row_end = min(row_start + params.rows, params.outer);
    var sum = 0.0;
    for (var o = row_start; o < row_end; o++) {
        sum = add1(sum, backward_element(o * params.period + q - params.first, w));
    }
    partials[block * params.period + q - params.p_shift] = sum;
}

// `weight_grad_cols` four columns at a time, where rows (channels * inner)
// are a multiple of four elements long: an invocation sums four
// neighbouring columns, each with its own channel's weight, and leaves their
// four partials side by side (one weight load for the four where they
// share a channel). `cols` counts vec4 columns here.
@compute @workgroup_size(WG)
fn weight_grad_cols_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = workgroup_index(wg) * WG + lid;
    if t >= params.len {
        return;
    }
    let block_in_dispatch = div_by(t, params.cols_div);
    let q4 = t - block_in_dispatch * params.cols;
    let q = q4 * 4u;
    let block = params.base + block_in_dispatch;
    // Columns are below one period and the phase is 0, so vec4_weights
    // takes channel (q / inner) % channels = q / inner.
    let w = vec4_weights(q);
    let row_start = block * params.rows;
    let row_end = min(row_start + params.rows, params.outer);
    var sum = vec4<f32>(0.0);
    for (var o = row_start; o < row_end; o++) {
        sum = add4(sum, backward_elements4(o * params.period + q - params.first, w));
    }
    partials4[block * (params.period / 4u) + q4 - params.p_shift / 4u] = sum;
}

// The sum of channel c_first + c over this dispatch's partials: added to
// the earlier slabs' sum, and kept for the next slab or rounded once into
// grad_w.
fn finish_channel(c: u32, sum: f32) {
    let channel = params.c_first + c;
    var total = sum;
    if (params.acc_mode & 1u) != 0u {
        total = add1(acc[channel], sum);
    }
    if (params.acc_mode & 2u) != 0u {
        acc[channel] = total;
    } else {
        grad_w[params.y_off + channel] = elem(total);
    }
}

fn channel_partial(c: u32, j: u32) -> f32 {
    let a = div_by(j, params.b_count_div);
    let b = j - a * params.b_count;
    return partials[a * params.a_stride + c * params.b_count + b - params.p_shift];
}

// Partials j..j + 3 of channel c, where they lie in fours (j a multiple of 4).
fn channel_partials4(c: u32, j: u32) -> vec4<f32> {
    let a = div_by(j, params.b_count_div);
    let b = j - a * params.b_count;
    return partials4[(a * params.a_stride + c * params.b_count + b - params.p_shift) / 4u];
}

// Pass 2 with many partials per channel: a workgroup per channel.
@compute @workgroup_size(WG)
fn weight_grad_reduce_wide(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = workgroup_index(wg);
    if c >= params.len {
        return;
    }
    let count = params.a_count * params.b_count;
    var sum = 0.0;
    for (var j = lid; j < count; j += WG) {
        sum = add1(sum, channel_partial(c, j));
    }
    let total = workgroup_sum(lid, sum);
    if lid == 0u {
        finish_channel(c, total);
    }
}

// weight_grad_reduce_wide where each channel's partials lie in rows whose
// length and stride are multiples of four (the vec4 tiles of pass 1 leave
// them so, and the columns of runs a multiple of four long): a vec4 load
// and one division per four partials.
@compute @workgroup_size(WG)
fn weight_grad_reduce_wide_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = workgroup_index(wg);
    if c >= params.len {
        return;
    }
    let count = params.a_count * params.b_count;
    var sum = vec4<f32>(0.0);
    for (var j = lid * 4u; j < count; j += WG * 4u) {
        sum = add4(sum, channel_partials4(c, j));
    }
    let total = workgroup_sum(lid, add1(add1(sum.x, sum.y), add1(sum.z, sum.w)));
    if lid == 0u {
        finish_channel(c, total);
    }
}

// weight_grad_reduce_narrow over partials that lie in fours. No barrier at
// all: where a channel has up to a thousand or so partials, one invocation
// reading them in turn costs a software rasteriser less than a workgroup's
// barriers.
@compute @workgroup_size(WG)
fn weight_grad_reduce_narrow_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = workgroup_index(wg) * WG + lid;
    if c >= params.len {
        return;
    }
    let count = params.a_count * params.b_count;
    var sum = vec4<f32>(0.0);
    for (var j = 0u; j < count; j += 4u) {
        sum = add4(sum, channel_partials4(c, j));
    }
    finish_channel(c, add1(add1(sum.x, sum.y), add1(sum.z, sum.w)));
}

// Pass 2 with few partials per channel: an invocation per channel.
@compute @workgroup_size(WG)
fn weight_grad_reduce_narrow(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = workgroup_index(wg) * WG + lid;
    if c >= params.len {
        return;
    }
    let count = params.a_count * params.b_count;
    var sum = 0.0;
    for (var j = 0u; j < count; j++) {
        sum = add1(sum, channel_partial(c, j));
    }
    finish_channel(c, sum);
}
