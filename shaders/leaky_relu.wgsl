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
