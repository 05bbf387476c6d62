// ReLU, PyTorch's: y = x < 0 ? 0 : x (NaN and -0 pass through, -inf gives
// 0); grad_x = x <= 0 ? 0 : g (zero at x = +-0, g where x is NaN). Pure
// selections: every value that comes out went in with the same bits.

fn relu_forward(x: elem) -> elem {
    return select(x, elem(0.0), is_negative1(f32(x)));
}

fn relu_forward4(x: vec4<elem>) -> vec4<elem> {
    return select(x, vec4<elem>(0.0), is_negative4(vec4<f32>(x)));
}

fn relu_backward(x: elem, g: elem) -> elem {
    return select(elem(0.0), g, relu_passes1(f32(x)));
}

fn relu_backward4(x: vec4<elem>, g: vec4<elem>) -> vec4<elem> {
    return select(vec4<elem>(0.0), g, relu_passes4(vec4<f32>(x)));
}

// !(x <= 0) as a bit test: x positive or NaN, where ReLU's gradient passes
// g (PyTorch's `x <= 0 ? 0 : g`). (b - 1) wraps below 0x7fffffff only for
// 0x00000001..=0x7fffffff; negative NaNs lie above -inf.
fn relu_passes1(x: f32) -> bool {
    let b = bitcast<u32>(x);
    return (b - 1u) < 0x7fffffffu || b > 0xff800000u;
}

fn relu_passes4(x: vec4<f32>) -> vec4<bool> {
    let b = bitcast<vec4<u32>>(x);
    return ((b - vec4<u32>(1u)) < vec4<u32>(0x7fffffffu)) | (b > vec4<u32>(0xff800000u));
}
