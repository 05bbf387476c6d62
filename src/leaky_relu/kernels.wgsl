// Leaky ReLU's side of the element-wise templates (src/engine/elementwise.wgsl
// and words.wgsl): its parameter block and the per-element functions the
// entry points call, over the binding-free functions of leaky_relu.wgsl.

// The slope is a parameter, not a compiled constant, so one pipeline
// serves every slope.
struct Params {
    geometry: Geometry,
    slope: f32,
}

fn begin_invocation(first: u32) {}

fn forward1(x: elem, e: u32) -> elem {
    return leaky_relu_forward(x, params.slope);
}

fn forward4(x: vec4<elem>, e: u32) -> vec4<elem> {
    return leaky_relu_forward4(x, params.slope);
}

fn backward1(x: elem, g: elem, e: u32) -> elem {
    return leaky_relu_backward(x, g, params.slope);
}

fn backward4(x: vec4<elem>, g: vec4<elem>, e: u32) -> vec4<elem> {
    return leaky_relu_backward4(x, g, params.slope);
}

// For the mask (src/engine/masked.wgsl): the backward's predicate, x > 0,
// and the backward given it, as leaky_relu_backward selects.

fn passes1(x: elem) -> bool {
    return is_positive1(f32(x));
}

fn passes4(x: vec4<elem>) -> vec4<bool> {
    return is_positive4(vec4<f32>(x));
}

fn backward_given1(passes: bool, g: elem) -> elem {
    return select(elem(mul1(params.slope, f32(g))), g, passes);
}

fn backward_given4(passes: vec4<bool>, g: vec4<elem>) -> vec4<elem> {
    return select(vec4<elem>(mul4(vec4<f32>(params.slope), vec4<f32>(g))), g, passes);
}

// On f16 data as u32 words: each half converted to f32 exactly, the same
// f32 product as above, one rounding back; the halves that pass through are
// taken from the input word by a bit mask.

fn scaled_words(v: vec4<u32>) -> vec4<u32> {
    let s = vec4<f32>(params.slope);
    let lo = mul4(s, f32_from_halves(v & vec4<u32>(0xffffu)));
    let hi = mul4(s, f32_from_halves(v >> vec4<u32>(16u)));
    return halves_from_f32(lo) | (halves_from_f32(hi) << vec4<u32>(16u));
}

fn forward_words(x: vec4<u32>) -> vec4<u32> {
    let keep = positive_halves(x);
    return (x & keep) | (scaled_words(x) & ~keep);
}

fn backward_words(x: vec4<u32>, g: vec4<u32>) -> vec4<u32> {
    return backward_given_words(positive_halves(x), g);
}

// Two vec4s of halves at elements e0 and e1 (words.wgsl, and over the
// blocks blocked_words.wgsl): the same everywhere.
fn forward_words_at(x: vec4<u32>, e0: u32, e1: u32) -> vec4<u32> {
    return forward_words(x);
}

fn backward_words_at(x: vec4<u32>, g: vec4<u32>, e0: u32, e1: u32) -> vec4<u32> {
    return backward_words(x, g);
}

fn passes_words(x: vec4<u32>) -> vec4<u32> {
    return positive_halves(x);
}

fn backward_given_words(passes: vec4<u32>, g: vec4<u32>) -> vec4<u32> {
    return (g & passes) | (scaled_words(g) & ~passes);
}
