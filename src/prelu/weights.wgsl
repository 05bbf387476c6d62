// How PReLU's kernels find a weight. The module's `Params` has `w_off`,
// `channels`, `phase` and the packed divisors `inner_div`, `channels_div`:
// the channel of element e (relative to the dispatch) is
// ((phase + e) / inner) % channels, where the host passes `phase` so that
// a dispatch may start anywhere in the tensor.

@group(0) @binding(7) var<storage, read_write> w1: array<elem>;
// The weight seen as vec4s (WEIGHTS_VEC4 below), or in the weight
// gradient's walk a row of lane weights (`weight_grad_columns_w4`).
@group(0) @binding(19) var<storage, read_write> w4: array<vec4<elem>>;
// The weights as f32, four channels a vec4: the engine's table, written
// by `weights_to_table` (kernels.wgsl) before the kernels that read it,
// the element-wise forward (WEIGHTS_TABLE below) and the kernels whose
// weight loads all read it (TABLE_LOADS), on CPU adapters. A uniform:
// lavapipe loads storage lane by lane, in a loop with a branch and a
// bounds test for each lane, even at one index, and a uniform array in
// one gather. Every kernel that may read it binds it.
@group(0) @binding(21) var<uniform> weight_table: array<vec4<f32>, 256>;

// TABLE_LOADS: every load of a channel's weight (`channel_weight`) reads
// the table, which holds the channels' weights one period from its
// first entry: the runs walk's (`weight_grad_runs`), and the element-wise
// kernels' where they load weights item by item (stepped from channel to
// channel, or divided for), on CPU adapters.
override TABLE_LOADS: bool = false;

// The weight of channel c.
fn channel_weight(c: u32) -> f32 {
    if TABLE_LOADS {
        return weight_table[c / 4u][c % 4u];
    }
    return f32(w1[params.w_off + c]);
}

fn weight_at(e: u32) -> f32 {
    let run = div_by(params.phase + e, params.inner_div);
    return channel_weight(channel_of_run(run));
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
// 4 * item_step() elements (channels-last with few channels: the host
// puts the items a period apart, or WG) or because one weight is shared:
// loaded once per invocation.
override WEIGHTS_REPEAT: bool = false;

// WEIGHTS_STEP: the run and channel are found by division once per
// invocation and stepped from item to item (4 * WG elements apart: the
// host never puts stepped items closer, `Weights::item_step`) after.
// Runs are at least four elements long, so that a vec4 crosses at most one
// run's end and needs at most two weights — or, with RUNS_OF_ONE
// (channels-last, every element its own run, at least three channels), a
// vec4's four channels follow its first, wrapping at most once. RUNS_LONG:
// runs are at least a step long, so a step crosses at most one run's end
// and needs no division; else a step divides once to count the runs it
// crosses.
override WEIGHTS_STEP: bool = false;
override RUNS_LONG: bool = false;
override RUNS_OF_ONE: bool = false;
// WEIGHTS_VEC4: every element its own run (channels-last), a multiple of
// four channels, the weight on a multiple of four elements of its binding:
// a vec4's four weights are four consecutive channels from a multiple of
// four, one load of `w4` where they were four. Elsewhere the element-wise
// kernels' `w4` is bound to a stand-in that nothing reads.
override WEIGHTS_VEC4: bool = false;

// WEIGHTS_TABLE: channels-last (every element its own run), a multiple of
// four channels whose vec4s divide a line of items (the template's
// ITEM_LINES) or span TABLE_PHASES whole lines, the weights copied as f32
// into the engine's table (kernels.wgsl's `weights_to_table`) before the
// forward. Each invocation loads TABLE_HELD vec4s of it (a line's items)
// for each place its lines take in the period, once, into
// `held_weights`, and its item j of line l takes set l % TABLE_PHASES's
// j-th. A load of the table costs lavapipe's forward as much at one
// literal index for every lane as gathered lane by lane (channels-last 3
// and 16 at 16M: 1.28–1.32 × the floor either way in a throw-away kernel,
// 1.08–1.20 with the weight a literal): fewer loads, not cheaper ones,
// are what gains, and where each vec4 loaded its weights from the table
// the walk read as well or better (BENCHMARKS.md).
override WEIGHTS_TABLE: bool = false;
override TABLE_HELD: u32 = 0u;

// TABLE_PHASES: with WEIGHTS_TABLE, the lines a period of the table
// spans, 1 where it divides a line or 2 (512 channels), the sets held: an
// invocation's lines lie one after another, so that a SIMD group still
// streams one stretch, and the set is picked with a select. lavapipe at
// 16M f32, 512 channels, × the 2-stream floor: one table load a vec4
// side by side 1.24, two sets held 1.09; lines a period apart with one
// set, 1.40; four sets for 1,024 channels 1.46 against 1.30
// (BENCHMARKS.md).
override TABLE_PHASES: u32 = 1u;

var<private> first_weights: vec4<f32>;
// WEIGHTS_TABLE's sets, the invocation's first line's first.
var<private> held_weights: array<vec4<f32>, 16>;

// WEIGHTS_STEP's position: the next item's offset in its run, and its
// channel.
var<private> step_offset: u32;
var<private> step_channel: u32;

fn next_channel(c: u32) -> u32 {
    return select(c + 1u, 0u, c + 1u == params.channels);
}

fn vec4_weights(e: u32) -> vec4<f32> {
    if WEIGHT_PER_VEC4 {
        return vec4<f32>(weight_at(e));
    }
    if WEIGHTS_VEC4 {
        // Runs of one: the element's index is its run's.
        return vec4<f32>(w4[(params.w_off + channel_of_run(params.phase + e)) / 4u]);
    }
    return vec4<f32>(weight_at(e), weight_at(e + 1u), weight_at(e + 2u), weight_at(e + 3u));
}

fn begin_invocation(first: u32) {
    if WEIGHTS_TABLE {
        // Runs of one: the element's index is its run's, and a multiple
        // of four channels puts the first item's four in one vec4 of the
        // table. Each set at the same places a line further on.
        let vec4s = params.channels / 4u;
        let first_vec4 = channel_of_run(params.phase + first) / 4u;
        for (var line_set = 0u; line_set < TABLE_PHASES; line_set++) {
            let start = first_vec4 + line_set * vec4s / TABLE_PHASES;
            var v = select(start, start - vec4s, start >= vec4s);
            for (var k = 0u; k < TABLE_HELD; k++) {
                held_weights[line_set * TABLE_HELD + k] = weight_table[v];
                // Past the last channels' vec4, back to the first (16
                // channels: four vec4s, held twice).
                v = select(v + 1u, 0u, v + 1u == vec4s);
            }
        }
    }
    if WEIGHTS_REPEAT {
        first_weights = vec4_weights(first);
    }
    if WEIGHTS_STEP {
        let j = params.phase + first;
        let run = div_by(j, params.inner_div);
        step_offset = j - run * params.inner;
        step_channel = channel_of_run(run);
    }
}

// The weights of the vec4 at element e. With WEIGHTS_STEP the kernels call
// it for their items in order, 4 * WG elements apart (the elements past the
// dispatch's end are never asked for, and neither is anything after them).
fn weights4(e: u32) -> vec4<f32> {
    if WEIGHTS_REPEAT {
        return first_weights;
    }
    if WEIGHTS_STEP {
        let offset = step_offset;
        let c = step_channel;
        var w: vec4<f32>;
        if RUNS_OF_ONE {
            let cs = vec4<u32>(c) + vec4<u32>(0u, 1u, 2u, 3u);
            let n = vec4<u32>(params.channels);
            let ws = select(cs, cs - n, cs >= n);
            w = vec4<f32>(channel_weight(ws.x), channel_weight(ws.y), channel_weight(ws.z), channel_weight(ws.w));
        } else {
            w = vec4<f32>(channel_weight(c));
            if !WEIGHT_PER_VEC4 {
                // The vec4 may end in the next run.
                let past = (vec4<u32>(offset) + vec4<u32>(0u, 1u, 2u, 3u)) >= vec4<u32>(params.inner);
                w = select(w, vec4<f32>(channel_weight(next_channel(c))), past);
            }
        }
        let advanced = offset + 4u * WG;
        if RUNS_LONG {
            let crossed = advanced >= params.inner;
            step_offset = select(advanced, advanced - params.inner, crossed);
            step_channel = select(c, next_channel(c), crossed);
        } else {
            let runs = div_by(advanced, params.inner_div);
            step_offset = advanced - runs * params.inner;
            step_channel = channel_of_run(c + runs);
        }
        return w;
    }
    return vec4_weights(e);
}
