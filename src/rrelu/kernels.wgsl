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
