// RReLU's side of the element-wise template (src/engine/elementwise.wgsl):
// its parameter block and the per-element functions the entry points call,
// over rrelu.wgsl. A vec4 of elements takes one Philox call; a scalar takes
// the word of its own element from the call of its vec4.

struct Params {
    geometry: Geometry,
    key: vec2<u32>,     // the seed
    stream: vec2<u32>,
    first: u32,         // the tensor's index of the dispatch's first element (a multiple of 4)
    lower: f32,
    span: f32,          // upper - lower
    top: f32,           // the largest float below upper (lower where they are equal)
}

fn begin_invocation(first: u32) {}

fn slopes4(e: u32) -> vec4<f32> {
    // The geometry's padding is 0 and serves as the opaque zero.
    return rrelu_slopes(params.first + e, params.key, params.stream, params.lower, params.span, params.top, params.geometry.pad);
}

fn slope1(e: u32) -> f32 {
    let i = params.first + e;
    return slopes4(e - i % 4u)[i % 4u];
}

fn forward1(x: elem, e: u32) -> elem {
    return rrelu_forward(x, slope1(e));
}

fn forward4(x: vec4<elem>, e: u32) -> vec4<elem> {
    return rrelu_forward4(x, slopes4(e));
}

fn backward1(x: elem, g: elem, e: u32) -> elem {
    return rrelu_backward(x, g, slope1(e));
}

fn backward4(x: vec4<elem>, g: vec4<elem>, e: u32) -> vec4<elem> {
    return rrelu_backward4(x, g, slopes4(e));
}

// The predicate its backward takes g on (!(x <= 0): x > 0 or NaN), for the
// template's forward over the blocks of the mask layout
// (src/engine/blocked.wgsl), which RReLU runs for the dead-unit
// statistics; its masks are never written in training.

fn passes1(x: elem) -> bool {
    return relu_passes1(f32(x));
}

fn passes4(x: vec4<elem>) -> vec4<bool> {
    return relu_passes4(vec4<f32>(x));
}

// On f16 as u32 words (src/engine/words.wgsl), on CPU adapters: each half
// with the slope of its element, converted to f32 exactly, the same f32
// product as rrelu.wgsl, one rounding back; the halves that pass through
// taken from the input word by a bit mask. The host runs these kernels
// only where the tensors' offsets are multiples of four elements, so that
// every whole vec4<u32> starts on a vec4 of Philox's (src/rrelu/mod.rs).

// The slopes of elements e..e + 3, e even: where e is 2 mod 4 in the
// tensor (one of the last words), its two come first.
fn slopes_at(e: u32) -> vec4<f32> {
    let offset = (params.first + e) % 4u;
    let a = slopes4(e - offset);
    return select(a, a.zwxy, offset == 2u);
}

// The halves of v (elements 0, 1 in v.x, 2, 3 in v.y of the vec4 at e0;
// likewise v.zw at e1) times their slopes.
fn scaled_words_at(v: vec4<u32>, e0: u32, e1: u32) -> vec4<u32> {
    let a0 = slopes_at(e0);
    let a1 = slopes_at(e1);
    let lo = mul4(vec4<f32>(a0.xz, a1.xz), f32_from_halves(v & vec4<u32>(0xffffu)));
    let hi = mul4(vec4<f32>(a0.yw, a1.yw), f32_from_halves(v >> vec4<u32>(16u)));
    return halves_from_f32(lo) | (halves_from_f32(hi) << vec4<u32>(16u));
}

fn forward_words_at(x: vec4<u32>, e0: u32, e1: u32) -> vec4<u32> {
    let keep = positive_or_nan_halves(x);
    return (x & keep) | (scaled_words_at(x, e0, e1) & ~keep);
}

fn backward_words_at(x: vec4<u32>, g: vec4<u32>, e0: u32, e1: u32) -> vec4<u32> {
    let passes = positive_or_nan_halves(x);
    return (g & passes) | (scaled_words_at(g, e0, e1) & ~passes);
}
