// PReLU's weight gradient, pass 1: grad_x and f32 partial sums of
// x > 0 ? 0 : x * g, each over a fixed set of elements, into `partials`.
// Reduced on the GPU in two passes with a fixed order, so it is
// bit-identical from run to run (no float atomics):
//   1. `weight_grad_rows*` or `weight_grad_cols*` (here) write grad_x and
//      one partial per tile, invocation or block of rows;
//   2. `weight_grad_reduce_*` (reduce.wgsl) sum each channel's partials in
//      a fixed order and round once to `elem`.
// Partials too many for one binding are written and read in parts: pass 2
// then runs once per slab of them, each slab's sums carried in `acc` (f32)
// to the next, in a fixed order too. Which kernels run, and so the order,
// depends on the shape (src/prelu/plan.rs), never on offsets.

// Invocations per workgroup (a power of two, at least 16).
override WG: u32 = 256u;
// Elements (or vec4s) each invocation of a tile takes, WG apart.
override ITEMS: u32 = 8u;

// One block for every weight-gradient kernel; each reads the fields it
// needs. Offsets are in elements from the start of their binding.
struct Params {
    len: u32,        // tiles, threads or channels in this dispatch
    groups_x: u32,   // workgroups along x and y: past the per-dimension
    groups_y: u32,   //   limit the grid spreads over y and z
    x_off: u32,
    g_off: u32,
    y_off: u32,      // grad_x; for pass 2, grad_w
    w_off: u32,
    channels: u32,   // weights (1 for one shared slope)
    inner: u32,      // elements per channel run
    phase: u32,      // 0: the weight fetch of weights.wgsl starts at a run
    first: u32,      // global index of the binding's first element
    base: u32,       // first tile (rows) or first row block (cols)
    tiles: u32,      // rows: tiles per channel run
    period: u32,     // cols: channels * inner, the columns of the tensor as a matrix
    cols: u32,       // cols: columns in this dispatch
    rows: u32,       // cols: rows each invocation sums
    outer: u32,      // cols: rows of the tensor
    a_count: u32,    // reduce: partials per channel = a_count * b_count,
    a_stride: u32,   //   at a * a_stride + channel * b_count + b
    b_count: u32,
    p_shift: u32,    // global partial index minus this (mod 2^32) is its index in the binding
    acc_mode: u32,   // reduce: 1 = start from acc[c], 2 = leave the sum in acc, not grad_w
    c_first: u32,    // reduce: the channel of this dispatch's first (channels in slabs)
    pad: u32,
    // The divisors above packed for `div_by` (src/divisor.rs).
    inner_div: vec2<u32>,
    channels_div: vec2<u32>,
    tiles_div: vec2<u32>,
    cols_div: vec2<u32>,
    b_count_div: vec2<u32>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(8) var<storage, read_write> partials: array<f32>;
@group(0) @binding(9) var<storage, read_write> grad_w: array<elem>;
// The partials seen as vec4s, where they lie in fours.
@group(0) @binding(16) var<storage, read_write> partials4: array<vec4<f32>>;
// Per-channel sums carried from one slab of partials to the next.
@group(0) @binding(17) var<storage, read_write> acc: array<f32>;

fn flat_workgroup(wg: vec3<u32>) -> u32 {
    return workgroup_index(wg, params.groups_x, params.groups_y);
}

// grad_x for the element at binding-relative index i, whose channel's weight
// is w; returns its contribution to that channel's grad_w.
fn backward_element(i: u32, w: f32) -> f32 {
    let x = x1[params.x_off + i];
    let g = g1[params.g_off + i];
    y1[params.y_off + i] = output1(params.y_off + i, prelu_backward(x, g, w));
    return prelu_weight_term(x, g);
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
    let grad_x = prelu_backward4(xe, ge, w);
    if ALIGNED {
        let yo = (params.y_off + i) / 4u;
        y4[yo] = output4(yo, grad_x);
    } else {
        let yo = params.y_off + i;
        y1[yo] = output1(yo, grad_x.x);
        y1[yo + 1u] = output1(yo + 1u, grad_x.y);
        y1[yo + 2u] = output1(yo + 2u, grad_x.z);
        y1[yo + 3u] = output1(yo + 3u, grad_x.w);
    }
    return prelu_weight_term4(xe, ge);
}

// Pass 1 where channel runs are long (inner >= a tile), or where a row of the
// tensor is too long to bind: a workgroup takes a
// tile of WG * ITEMS consecutive elements inside one run (one channel).
// Tile t of run r is global tile r * tiles + t, and its partial goes there.
@compute @workgroup_size(WG)
fn weight_grad_rows(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let local_tile = flat_workgroup(wg);
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
    let local_tile = flat_workgroup(wg);
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
    let t = flat_workgroup(wg) * WG + lid;
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
    let t = flat_workgroup(wg) * WG + lid;
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
