// The tensors an op reads and writes as vec4s of `elem`, at the binding
// numbers every kernel shares (src/engine/elementwise.rs); scalars.wgsl has
// the same ranges as scalars.
// Every tensor binding is read_write, inputs too: wgpu tracks usage per
// buffer, so an input and an output in one buffer (in place, or side by
// side in an app's arena) would otherwise be a read-only/read-write
// conflict.
@group(0) @binding(1) var<storage, read_write> x4: array<vec4<elem>>;
@group(0) @binding(2) var<storage, read_write> g4: array<vec4<elem>>;
@group(0) @binding(3) var<storage, read_write> y4: array<vec4<elem>>;

// What goes into y4[i] for the results r.
fn output4(i: u32, r: vec4<elem>) -> vec4<elem> {
    if ACCUMULATE {
        return vec4<elem>(add4(vec4<f32>(y4[i]), vec4<f32>(r)));
    }
    return r;
}
