// PReLU on four halves packed in two u32 words (a "quad"), binding-free:
// the walks' words (quad_words.wgsl) and the forward with statistics over
// the blocks of the mask layout (kernels.wgsl's forward_words_at) on CPU
// adapters. Over halves.wgsl.

alias Quad = vec2<u32>;

// The four halves of a quad, one in the low bits of each component, and
// back.
fn halves_of(q: Quad) -> vec4<u32> {
    return vec4<u32>(q.x & 0xffffu, q.x >> 16u, q.y & 0xffffu, q.y >> 16u);
}

fn quad_of(h: vec4<u32>) -> Quad {
    return vec2<u32>(h.x | (h.y << 16u), h.z | (h.w << 16u));
}

fn values_of(q: Quad) -> vec4<f32> {
    return f32_from_halves(halves_of(q));
}

// prelu.wgsl's functions on words: the f32 values exact, the same f32
// products rounded once, and what passes through taken as loaded.
fn forward_quad(x: Quad, w: vec4<f32>) -> Quad {
    let h = halves_of(x);
    let v = f32_from_halves(h);
    return quad_of(select(halves_from_f32(mul4(w, v)), h, is_positive4(v)));
}

fn backward_quad(x: Quad, g: Quad, w: vec4<f32>) -> Quad {
    let h = halves_of(g);
    let scaled = halves_from_f32(mul4(w, f32_from_halves(h)));
    return quad_of(select(scaled, h, is_positive4(values_of(x))));
}

fn weight_term_quad(x: Quad, g: Quad) -> vec4<f32> {
    let v = values_of(x);
    return select(mul4(v, values_of(g)), vec4<f32>(0.0), is_positive4(v));
}
