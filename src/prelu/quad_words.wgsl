// The walks' whole vec4s of an f16 tensor ("quads") as two u32 words of
// two halves each, for CPU adapters: a vec2<u32> loads as two 32-bit
// lanes where a vec4<f16> loads as four 16-bit ones, and the halves'
// conversions are bit arithmetic (halves.wgsl) where the rasteriser's f16
// conversions are slow. The same indices as the vec4<f16> views (8 bytes a
// quad), so the walks, their sums and their bits are unchanged. The host
// takes this module only where every operand is ALIGNED; the tensor's
// partial last vec4 goes through the scalar f16 views as in quads.wgsl.
// PReLU on the quads is prelu_halves.wgsl's.

@group(0) @binding(1) var<storage, read_write> x4: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read_write> g4: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> y4: array<vec2<u32>>;

// What goes into y4[i] for the results r (tensors.wgsl's output4 on
// words): with ACCUMULATE, each half plus y's, in f32, rounded once.
fn output4(i: u32, r: Quad) -> Quad {
    if ACCUMULATE {
        return quad_of(halves_from_f32(add4(values_of(y4[i]), values_of(r))));
    }
    return r;
}

fn load_x(b: Bases, v: u32) -> Quad {
    return x4[b.x4 + v];
}

fn load_g(b: Bases, v: u32) -> Quad {
    return g4[b.g4 + v];
}

fn store_grad_x(b: Bases, v: u32, r: Quad) {
    let i = b.y4 + v;
    y4[i] = output4(i, r);
}
