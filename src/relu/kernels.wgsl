// ReLU's side of the element-wise templates (src/engine/elementwise.wgsl
// and words.wgsl): its parameter block and the per-element functions the
// entry points call, over the binding-free functions of relu.wgsl.

struct Params {
    geometry: Geometry,
}

fn begin_invocation(first: u32) {}

fn forward1(x: elem, e: u32) -> elem {
    return relu_forward(x);
}

fn forward4(x: vec4<elem>, e: u32) -> vec4<elem> {
    return relu_forward4(x);
}

fn backward1(x: elem, g: elem, e: u32) -> elem {
    return relu_backward(x, g);
}

fn backward4(x: vec4<elem>, g: vec4<elem>, e: u32) -> vec4<elem> {
    return relu_backward4(x, g);
}

// For the mask (src/engine/masked.wgsl): the backward's predicate, x
// positive or NaN, and the backward given it, as relu_backward selects.

fn passes1(x: elem) -> bool {
    return relu_passes1(f32(x));
}

fn passes4(x: vec4<elem>) -> vec4<bool> {
    return relu_passes4(vec4<f32>(x));
}

fn backward_given1(passes: bool, g: elem) -> elem {
    return select(elem(0.0), g, passes);
}

fn backward_given4(passes: vec4<bool>, g: vec4<elem>) -> vec4<elem> {
    return select(vec4<elem>(0.0), g, passes);
}

// On f16 data as u32 words ReLU needs no arithmetic: it keeps or zeroes
// each half by its bit pattern, with no conversion.

fn forward_words(x: vec4<u32>) -> vec4<u32> {
    return x & ~negative_halves(x);
}

fn backward_words(x: vec4<u32>, g: vec4<u32>) -> vec4<u32> {
    return backward_given_words(relu_passing_halves(x), g);
}

// The forward of two vec4s of halves over the blocks (blocked_words.wgsl):
// the same everywhere.
fn forward_words_at(x: vec4<u32>, e0: u32, e1: u32) -> vec4<u32> {
    return forward_words(x);
}

fn passes_words(x: vec4<u32>) -> vec4<u32> {
    return relu_passing_halves(x);
}

fn backward_given_words(passes: vec4<u32>, g: vec4<u32>) -> vec4<u32> {
    return g & passes;
}

// Positive or NaN f16 (0x0001..=0x7fff, 0xfc01..=0xffff): where ReLU's
// gradient passes g. Two compares a half, as many as `positive_halves`:
// (h - 1) wraps below 0x7fff only for 0x0001..=0x7fff.
fn relu_passing_halves(w: vec4<u32>) -> vec4<u32> {
    let one = vec4<u32>(1u);
    let lo = w & vec4<u32>(0xffffu);
    let hi = w >> vec4<u32>(16u);
    let lo_in = ((lo - one) < vec4<u32>(0x7fffu)) | (lo > vec4<u32>(0xfc00u));
    let hi_in = ((hi - one) < vec4<u32>(0x7fffu)) | (hi > vec4<u32>(0xfc00u));
    return select(vec4<u32>(0u), vec4<u32>(0x0000ffffu), lo_in) | select(vec4<u32>(0u), vec4<u32>(0xffff0000u), hi_in);
}

