// How PReLU's kernels find a weight. The module's `Params` has `w_off`,
// `channels`, `phase` and the packed divisors `inner_div`, `channels_div`:
// the channel of element e (relative to the dispatch) is
// ((phase + e) / inner) % channels, where the host passes `phase` so that
// a dispatch may start anywhere in the tensor.

@group(0) @binding(7) var<storage, read_write> w1: array<elem>;

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
