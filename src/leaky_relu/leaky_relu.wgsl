// Leaky ReLU with slope s: y = x > 0 ? x : s * x; grad_x = x > 0 ? g : s * g
// (s * g at x = 0 and where x is NaN). What is selected (x, g) passes
// through as loaded; only the products are converted and rounded, once.

fn leaky_relu_forward(x: elem, slope: f32) -> elem {
    let v = f32(x);
    return select(elem(mul1(slope, v)), x, is_positive1(v));
}

fn leaky_relu_forward4(x: vec4<elem>, slope: f32) -> vec4<elem> {
    let v = vec4<f32>(x);
    return select(vec4<elem>(mul4(vec4<f32>(slope), v)), x, is_positive4(v));
}

fn leaky_relu_backward(x: elem, g: elem, slope: f32) -> elem {
    return select(elem(mul1(slope, f32(g))), g, is_positive1(f32(x)));
}

fn leaky_relu_backward4(x: vec4<elem>, g: vec4<elem>, slope: f32) -> vec4<elem> {
    let scaled = vec4<elem>(mul4(vec4<f32>(slope), vec4<f32>(g)));
    return select(scaled, g, is_positive4(vec4<f32>(x)));
}
