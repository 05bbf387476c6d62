// ReLU: y = x < 0 ? 0 : x (NaN stays NaN, -inf gives 0);
// grad_x = x > 0 ? g : 0 (zero at x = 0, and where x is NaN).

fn begin_invocation(first: u32) {}

fn forward1(x: f32, e: u32) -> f32 {
    return select(x, 0.0, is_negative1(x));
}

fn forward4(x: vec4<f32>, e: u32) -> vec4<f32> {
    return select(x, vec4<f32>(0.0), is_negative4(x));
}

fn backward1(x: f32, g: f32, e: u32) -> f32 {
    return select(0.0, g, is_positive1(x));
}

fn backward4(x: vec4<f32>, g: vec4<f32>, e: u32) -> vec4<f32> {
    return select(vec4<f32>(0.0), g, is_positive4(x));
}

// On f16 data as u32 words (shaders/words.wgsl): ReLU needs no arithmetic,
// it keeps or zeroes each half by its bit pattern, with no conversion.

fn forward_words(x: vec4<u32>) -> vec4<u32> {
    return x & ~negative_halves(x);
}

fn backward_words(x: vec4<u32>, g: vec4<u32>) -> vec4<u32> {
    return g & positive_halves(x);
}
