// PReLU's weight gradient, pass 2: each channel's partials summed in a
// fixed order (weight_grad.wgsl has the whole story).

// The sum of channel c_first + c over this dispatch's partials: added to
// the earlier slabs' sum, and kept for the next slab or rounded once into
// grad_w (with ACCUMULATE, that rounded sum added to grad_w's value and
// rounded once more, as grad_x's elements are).
fn finish_channel(c: u32, sum: f32) {
    let channel = params.c_first + c;
    var total = sum;
    if (params.acc_mode & 1u) != 0u {
        total = add1(acc[channel], sum);
    }
    if (params.acc_mode & 2u) != 0u {
        acc[channel] = total;
    } else {
        let i = params.y_off + channel;
        if ACCUMULATE {
            grad_w[i] = elem(add1(f32(grad_w[i]), f32(elem(total))));
        } else {
            grad_w[i] = elem(total);
        }
    }
}

// Where a channel's partials lie: `a_count` rows of `b_count`, `a_stride`
// apart. Partial j of channel c is at row j / b_count, b_count · c +
// j % b_count in it; the kernels step through j from `first` by `step`
// keeping the row and column, so that no step divides (a software
// rasteriser pays for a division more than for the load).
struct Cursor {
    a: u32,
    b: u32,
    step_a: u32,
    step_b: u32,
}

// The rows a cursor walks: none where the rows are empty.
fn cursor_rows() -> u32 {
    return select(params.a_count, 0u, params.b_count == 0u);
}

fn cursor(first: u32, step: u32) -> Cursor {
    let a = div_by(first, params.b_count_div);
    let step_a = div_by(step, params.b_count_div);
    return Cursor(a, first - a * params.b_count, step_a, step - step_a * params.b_count);
}

fn advance(cur: ptr<function, Cursor>) {
    (*cur).a += (*cur).step_a;
    (*cur).b += (*cur).step_b;
    if (*cur).b >= params.b_count {
        (*cur).b -= params.b_count;
        (*cur).a += 1u;
    }
}

// The index in the partials' binding of the cursor's partial of channel c.
fn partial_index(c: u32, cur: Cursor) -> u32 {
    return cur.a * params.a_stride + c * params.b_count + cur.b - params.p_shift;
}

// Pass 2 with many partials per channel: a workgroup per channel.
@compute @workgroup_size(WG)
fn weight_grad_reduce_wide(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = flat_workgroup(wg);
    if c >= params.len {
        return;
    }
    var sum = 0.0;
    for (var cur = cursor(lid, WG); cur.a < cursor_rows(); advance(&cur)) {
        sum = add1(sum, partials[partial_index(c, cur)]);
    }
    let total = workgroup_sum(lid, sum);
    if lid == 0u {
        finish_channel(c, total);
    }
}

// weight_grad_reduce_wide where each channel's partials lie in rows whose
// length and stride are multiples of four (the runs' slots padded to
// fours, the columns of runs a multiple of four long): vec4 loads.
@compute @workgroup_size(WG)
fn weight_grad_reduce_wide_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = flat_workgroup(wg);
    if c >= params.len {
        return;
    }
    var sum = vec4<f32>(0.0);
    for (var cur = cursor(lid * 4u, WG * 4u); cur.a < cursor_rows(); advance(&cur)) {
        sum = add4(sum, partials4[partial_index(c, cur) / 4u]);
    }
    let total = workgroup_sum(lid, add1(add1(sum.x, sum.y), add1(sum.z, sum.w)));
    if lid == 0u {
        finish_channel(c, total);
    }
}

// Pass 2 with few partials per channel: an invocation per channel, no
// barrier at all (where a channel has up to a thousand or so partials, one
// invocation reading them in turn costs a software rasteriser less than a
// workgroup's barriers). Each row's b_count partials (four or more) are
// read as the vec4s that hold them, the other channels' lanes masked, so
// that no partial's row is found by a division. A lane's masked terms are
// +0, which leaves its sum as it was (a sum from +0 is never -0).
@compute @workgroup_size(WG)
fn weight_grad_reduce_narrow_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = flat_workgroup(wg) * WG + lid;
    if c >= params.len {
        return;
    }
    let lanes = vec4<u32>(0u, 1u, 2u, 3u);
    var sum = vec4<f32>(0.0);
    var first = c * params.b_count - params.p_shift;
    for (var a = 0u; a < params.a_count; a++) {
        let end = first + params.b_count;
        for (var v = first / 4u; 4u * v < end; v++) {
            let i = vec4<u32>(4u * v) + lanes;
            let own = i >= vec4<u32>(first) & i < vec4<u32>(end);
            sum = add4(sum, select(vec4<f32>(0.0), partials4[v], own));
        }
        first += params.a_stride;
    }
    finish_channel(c, add1(add1(sum.x, sum.y), add1(sum.z, sum.w)));
}

// weight_grad_reduce_narrow_vec4 where rows are under four partials long
// (channels last, a dense layer): one float a load, as a vec4 load costs
// a software rasteriser more than a float's.
@compute @workgroup_size(WG)
fn weight_grad_reduce_narrow(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = flat_workgroup(wg) * WG + lid;
    if c >= params.len {
        return;
    }
    var sum = 0.0;
    var first = c * params.b_count - params.p_shift;
    for (var a = 0u; a < params.a_count; a++) {
        for (var b = 0u; b < params.b_count; b++) {
            sum = add1(sum, partials[first + b]);
        }
        first += params.a_stride;
    }
    finish_channel(c, sum);
}

// weight_grad_reduce_narrow where a row holds one partial per channel
// (b_count 1: channels-last, a dense layer): an invocation per four
// channels, their four partials of a row side by side, as one vec4 where
// the rows are whole vec4s (ROWS_IN_VEC4S). Each lane is one channel's
// sum, the same additions in the same order as the one-channel kernel's,
// so the bits are too, in a quarter of the loop steps.
override ROWS_IN_VEC4S: bool = false;

@compute @workgroup_size(WG)
fn weight_grad_reduce_four_channels(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = 4u * (flat_workgroup(wg) * WG + lid);
    let inside = c < params.len;
    var sum = vec4<f32>(0.0);
    var i = c - params.p_shift;
    for (var a = 0u; a < params.a_count; a++) {
        if inside {
            if ROWS_IN_VEC4S {
                sum = add4(sum, partials4[i / 4u]);
            } else {
                sum = add4(sum, vec4<f32>(partials[i], partials[i + 1u], partials[i + 2u], partials[i + 3u]));
            }
        }
        i += params.a_stride;
        if ROW_BARRIER {
            workgroupBarrier();
        }
    }
    for (var l = 0u; l < 4u; l++) {
        if c + l < params.len {
            finish_channel(c + l, sum[l]);
        }
    }
}

// Partials each invocation of a fold adds: FOLD rows, or at most FOLD of
// a run (its b_count is chosen for that).
override FOLD: u32 = 64u;
// The folded partials, where pass 2 then reads.
@group(0) @binding(18) var<storage, read_write> folded: array<f32>;

// Before pass 2, where pass 1 left many rows of partials (`period` each
// here: a columns period, or every run's partials): invocation t adds
// column t % period of FOLD rows, in order, into row t / period of
// `folded` (y_off its offset there). Neighbouring invocations take
// neighbouring columns, so that each row is read side by side; pass 2
// then has a FOLD-th of the rows, in the same arrangement.
@compute @workgroup_size(WG)
fn weight_grad_fold(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = flat_workgroup(wg) * WG + lid;
    if t >= params.len {
        return;
    }
    let period = params.period;
    let block = div_by(t, params.period_div);
    let column = t - block * period;
    let first = block * FOLD;
    let rows = min(FOLD, params.a_count - first);
    let base = first * period + column - params.p_shift;
    var sum = 0.0;
    for (var k = 0u; k < rows; k++) {
        sum = add1(sum, partials[base + k * period]);
    }
    folded[params.y_off + t] = sum;
}

// weight_grad_fold where rows are whole vec4s: invocation t adds
// vec4 column t % (period / 4) of FOLD rows, each lane one column's sum in
// the same order as weight_grad_fold's, at a quarter of its loads and
// loop steps. `period_div` divides by period / 4 here.
@group(0) @binding(20) var<storage, read_write> folded4: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn weight_grad_fold_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = flat_workgroup(wg) * WG + lid;
    let inside = t < params.len;
    let period = params.period / 4u;
    let block = div_by(t, params.period_div);
    let column = t - block * period;
    let first = block * FOLD;
    let rows = select(0u, min(FOLD, params.a_count - first), inside);
    var v = first * period + (4u * column - params.p_shift) / 4u;
    var sum = vec4<f32>(0.0);
    for (var k = 0u; k < FOLD; k++) {
        if k < rows {
            sum = add4(sum, partials4[v]);
        }
        v += period;
        if ROW_BARRIER {
            workgroupBarrier();
        }
    }
    if inside {
        folded4[params.y_off / 4u + t] = sum;
    }
}

// Before pass 2, where runs have many partials (FOLD_RUNS_FROM_SLOTS in
// plan.rs): each run's `slots` partials of pass 1 into `b_count` (at least
// slots / FOLD). Invocation t takes partial j = t % b_count of run r =
// t / b_count and adds the run's partials j, j + b_count, j + 2 b_count,
// … in order: neighbouring invocations read neighbouring partials. Pass 2
// then reads runs of b_count partials.
@compute @workgroup_size(WG)
fn weight_grad_fold_runs(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = flat_workgroup(wg) * WG + lid;
    if t >= params.len {
        return;
    }
    let step = params.b_count;
    let r = div_by(t, params.b_count_div);
    let j = t - r * step;
    let base = r * params.slots - params.p_shift;
    var sum = 0.0;
    for (var b = j; b < params.slots; b += step) {
        sum = add1(sum, partials[base + b]);
    }
    folded[params.y_off + t] = sum;
}
