// The walks' whole vec4s of the tensor ("quads") as vec4<elem>: loaded
// through the vec4 views where aligned, else lane by lane through the
// scalar views, and PReLU on them (prelu.wgsl). quad_words.wgsl has the
// same functions on f16 as u32 words.

alias Quad = vec4<elem>;

// Tensor vec4 v of x and g.
fn load_x(b: Bases, v: u32) -> Quad {
    if ALIGNED {
        return x4[b.x4 + v];
    }
    let i = b.x + 4u * v;
    return vec4<elem>(x1[i], x1[i + 1u], x1[i + 2u], x1[i + 3u]);
}

fn load_g(b: Bases, v: u32) -> Quad {
    if ALIGNED {
        return g4[b.g4 + v];
    }
    let i = b.g + 4u * v;
    return vec4<elem>(g1[i], g1[i + 1u], g1[i + 2u], g1[i + 3u]);
}

fn store_grad_x(b: Bases, v: u32, r: Quad) {
    if ALIGNED {
        let i = b.y4 + v;
        y4[i] = output4(i, r);
    } else {
        let i = b.y + 4u * v;
        y1[i] = output1(i, r.x);
        y1[i + 1u] = output1(i + 1u, r.y);
        y1[i + 2u] = output1(i + 2u, r.z);
        y1[i + 3u] = output1(i + 3u, r.w);
    }
}

fn forward_quad(x: Quad, w: vec4<f32>) -> Quad {
    return prelu_forward4(x, w);
}

fn backward_quad(x: Quad, g: Quad, w: vec4<f32>) -> Quad {
    return prelu_backward4(x, g, w);
}

fn weight_term_quad(x: Quad, g: Quad) -> vec4<f32> {
    return prelu_weight_term4(x, g);
}
