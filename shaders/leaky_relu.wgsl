// Leaky ReLU with slope s: y = x > 0 ? x : s * x; grad_x = x > 0 ? g : s * g
// (s at x = 0). The slope is a parameter, not a compiled constant, so one
// pipeline serves every slope.

fn begin_invocation(first: u32) {}

fn forward1(x: f32, e: u32) -> f32 {
    return select(mul1(params.slope, x), x, is_positive1(x));
}

fn forward4(x: vec4<f32>, e: u32) -> vec4<f32> {
    return select(mul4(vec4<f32>(params.slope), x), x, is_positive4(x));
}

fn backward1(x: f32, g: f32, e: u32) -> f32 {
    return select(mul1(params.slope, g), g, is_positive1(x));
}

fn backward4(x: vec4<f32>, g: vec4<f32>, e: u32) -> vec4<f32> {
    return select(mul4(vec4<f32>(params.slope), g), g, is_positive4(x));
}

// On f16 data as u32 words (shaders/words.wgsl): each half converted to
// f32 exactly, the same f32 arithmetic as above, one rounding back.

fn forward_words(x: vec4<u32>) -> vec4<u32> {
    let lo = forward4(f32_from_halves(x & vec4<u32>(0xffffu)), 0u);
    let hi = forward4(f32_from_halves(x >> vec4<u32>(16u)), 0u);
    return halves_from_f32(lo) | (halves_from_f32(hi) << vec4<u32>(16u));
}

fn backward_words(x: vec4<u32>, g: vec4<u32>) -> vec4<u32> {
    let low = vec4<u32>(0xffffu);
    let sixteen = vec4<u32>(16u);
    let lo = backward4(f32_from_halves(x & low), f32_from_halves(g & low), 0u);
    let hi = backward4(f32_from_halves(x >> sixteen), f32_from_halves(g >> sixteen), 0u);
    return halves_from_f32(lo) | (halves_from_f32(hi) << sixteen);
}
