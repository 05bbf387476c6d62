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
    return backward_given_words(positive_or_nan_halves(x), g);
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
    return positive_or_nan_halves(x);
}

fn backward_given_words(passes: vec4<u32>, g: vec4<u32>) -> vec4<u32> {
    return g & passes;
}

