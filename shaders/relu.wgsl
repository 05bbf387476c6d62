// ReLU, PyTorch's: y = x < 0 ? 0 : x (NaN and -0 pass through, -inf gives
// 0); grad_x = x <= 0 ? 0 : g (zero at x = +-0, g where x is NaN). Pure
// selections: every value that comes out went in with the same bits.

fn begin_invocation(first: u32) {}

fn forward1(x: elem, e: u32) -> elem {
    return select(x, elem(0.0), is_negative1(f32(x)));
}

fn forward4(x: vec4<elem>, e: u32) -> vec4<elem> {
    return select(x, vec4<elem>(0.0), is_negative4(vec4<f32>(x)));
}

fn backward1(x: elem, g: elem, e: u32) -> elem {
    return select(elem(0.0), g, relu_passes1(f32(x)));
}

fn backward4(x: vec4<elem>, g: vec4<elem>, e: u32) -> vec4<elem> {
    return select(vec4<elem>(0.0), g, relu_passes4(vec4<f32>(x)));
}

// On f16 data as u32 words (shaders/words.wgsl): ReLU needs no arithmetic,
// it keeps or zeroes each half by its bit pattern, with no conversion.

fn forward_words(x: vec4<u32>) -> vec4<u32> {
    return x & ~negative_halves(x);
}

fn backward_words(x: vec4<u32>, g: vec4<u32>) -> vec4<u32> {
    return g & relu_passing_halves(x);
}
