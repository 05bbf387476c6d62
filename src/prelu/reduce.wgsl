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
    let c = flat_workgroup(wg);
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
    let c = flat_workgroup(wg);
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
    let c = flat_workgroup(wg) * WG + lid;
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
    let c = flat_workgroup(wg) * WG + lid;
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

// Rows of partials each invocation of `weight_grad_fold` adds.
override FOLD: u32 = 64u;
// The folded rows, where pass 2 then reads.
@group(0) @binding(18) var<storage, read_write> folded: array<f32>;

// Before pass 2, where `weight_grad_columns` left many rows of one period
// each: invocation t adds column t % period of FOLD rows, in order, into
// row t / period of `folded` (y_off its offset there). Neighbouring
// invocations take neighbouring columns, so that each row is read side by
// side; pass 2 then has a FOLD-th of the rows, in the same arrangement.
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
