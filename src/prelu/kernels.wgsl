// PReLU's side of the element-wise template (src/engine/elementwise.wgsl):
// its parameter block and the per-element functions the entry points call,
// over prelu.wgsl and the weight fetch of weights.wgsl.

struct Params {
    geometry: Geometry,
    w_off: u32,
    channels: u32,       // weights (1 for one shared slope)
    inner: u32,          // elements per channel run
    phase: u32,          // global index of the dispatch's first element, mod channels * inner
    inner_div: vec2<u32>,    // inner and channels packed for `div_by`
    channels_div: vec2<u32>,
}

// The engine's table as storage (`weight_table` in weights.wgsl).
@group(0) @binding(22) var<storage, read_write> table_out: array<f32>;

// The weights into the table, an invocation a channel: a dispatch of its
// own before the kernels that read it.
@compute @workgroup_size(WG)
fn weights_to_table(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wg) * WG + lid;
    if i < params.channels {
        table_out[i] = f32(w1[params.w_off + i]);
    }
}

fn forward1(x: elem, e: u32) -> elem {
    return prelu_forward(x, weight_at(e));
}

fn forward4(x: vec4<elem>, e: u32) -> vec4<elem> {
    if WEIGHTS_TABLE {
        // (`item` and `item_line` are the template's: which of the
        // invocation's items of a line, and which line.)
        var w = held_weights[item];
        if TABLE_PHASES == 2u {
            w = select(w, held_weights[TABLE_HELD + item], item_line % 2u == 1u);
        }
        return prelu_forward4(x, w);
    }
    return prelu_forward4(x, weights4(e));
}

fn backward1(x: elem, g: elem, e: u32) -> elem {
    return prelu_backward(x, g, weight_at(e));
}

fn backward4(x: vec4<elem>, g: vec4<elem>, e: u32) -> vec4<elem> {
    return prelu_backward4(x, g, weights4(e));
}

// The predicate its backward takes g on, for the template's forward over
// the blocks of the mask layout (src/engine/blocked.wgsl), which PReLU runs
// for the dead-unit statistics; its masks are never written (the weight
// gradient needs x).

fn passes1(x: elem) -> bool {
    return is_positive1(f32(x));
}

fn passes4(x: vec4<elem>) -> vec4<bool> {
    return is_positive4(vec4<f32>(x));
}

// On f16 as u32 words over the blocks (src/engine/blocked_words.wgsl), for
// the forward with statistics on CPU adapters: two vec4s of halves with
// the weights of their elements, as the walks' words (prelu_halves.wgsl).

fn forward_words_at(x: vec4<u32>, e0: u32, e1: u32) -> vec4<u32> {
    // In this order: a stepped weight fetch goes item by item.
    let first = weights4(e0);
    let second = weights4(e1);
    return vec4<u32>(forward_quad(x.xy, first), forward_quad(x.zw, second));
}

fn passes_words(x: vec4<u32>) -> vec4<u32> {
    return positive_halves(x);
}
