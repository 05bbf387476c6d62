// Leaky ReLU with slope s: y = x > 0 ? x : s * x; grad_x = x > 0 ? g : s * g
// (s at x = 0 and where x is NaN). The slope is a parameter, not a compiled
// constant, so one pipeline serves every slope. What is selected (x, g)
// passes through as loaded; only the products are converted and rounded.

fn begin_invocation(first: u32) {}

fn forward1(x: elem, e: u32) -> elem {
    let v = f32(x);
    return select(elem(mul1(params.slope, v)), x, is_positive1(v));
}

fn forward4(x: vec4<elem>, e: u32) -> vec4<elem> {
    let v = vec4<f32>(x);
    return select(vec4<elem>(mul4(vec4<f32>(params.slope), v)), x, is_positive4(v));
}

fn backward1(x: elem, g: elem, e: u32) -> elem {
    return select(elem(mul1(params.slope, f32(g))), g, is_positive1(f32(x)));
}

fn backward4(x: vec4<elem>, g: vec4<elem>, e: u32) -> vec4<elem> {
    let scaled = vec4<elem>(mul4(vec4<f32>(params.slope), vec4<f32>(g)));
    return select(scaled, g, is_positive4(vec4<f32>(x)));
}

// On f16 data as u32 words (shaders/words.wgsl): each half converted to
// f32 exactly, the same f32 product as above, one rounding back; the
// halves that pass through are taken from the input word by a bit mask.

fn scaled_words(v: vec4<u32>) -> vec4<u32> {
    let s = vec4<f32>(params.slope);
    let lo = mul4(s, f32_from_halves(v & vec4<u32>(0xffffu)));
    let hi = mul4(s, f32_from_halves(v >> vec4<u32>(16u)));
    return halves_from_f32(lo) | (halves_from_f32(hi) << vec4<u32>(16u));
}

fn forward_words(x: vec4<u32>) -> vec4<u32> {
    let keep = positive_halves(x);
    return (x & keep) | (scaled_words(x) & ~keep);
}

fn backward_words(x: vec4<u32>, g: vec4<u32>) -> vec4<u32> {
    let keep = positive_halves(x);
    return (g & keep) | (scaled_words(g) & ~keep);
}
