// PReLU with weight w (the element's channel's, or one shared):
//   y = x > 0 ? x : w * x;   grad_x = x > 0 ? g : w * g;
//   the weight gradient's term: x > 0 ? 0 : x * g.
// What is selected passes through as loaded; products are computed in f32
// and rounded once.

fn prelu_forward(x: elem, w: f32) -> elem {
    let v = f32(x);
    return select(elem(mul1(w, v)), x, is_positive1(v));
}

fn prelu_forward4(x: vec4<elem>, w: vec4<f32>) -> vec4<elem> {
    let v = vec4<f32>(x);
    return select(vec4<elem>(mul4(w, v)), x, is_positive4(v));
}

fn prelu_backward(x: elem, g: elem, w: f32) -> elem {
    return select(elem(mul1(w, f32(g))), g, is_positive1(f32(x)));
}

fn prelu_backward4(x: vec4<elem>, g: vec4<elem>, w: vec4<f32>) -> vec4<elem> {
    let scaled = vec4<elem>(mul4(w, vec4<f32>(g)));
    return select(scaled, g, is_positive4(vec4<f32>(x)));
}

// The element's term of the weight gradient, in f32 (NaN x contributes).
fn prelu_weight_term(x: elem, g: elem) -> f32 {
    let v = f32(x);
    return select(mul1(v, f32(g)), 0.0, is_positive1(v));
}

fn prelu_weight_term4(x: vec4<elem>, g: vec4<elem>) -> vec4<f32> {
    let v = vec4<f32>(x);
    return select(mul4(v, vec4<f32>(g)), vec4<f32>(0.0), is_positive4(v));
}
