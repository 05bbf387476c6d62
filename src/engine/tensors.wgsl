// The tensors an op reads and writes, as vec4s and as scalars of `elem`,
// at the binding numbers every kernel shares (src/engine/elementwise.rs).
// Every tensor binding is read_write, inputs too: wgpu tracks usage per
// buffer, so an input and an output in one buffer (in place, or side by
// side in an app's arena) would otherwise be a read-only/read-write
// conflict.
@group(0) @binding(1) var<storage, read_write> x4: array<vec4<elem>>;
@group(0) @binding(2) var<storage, read_write> g4: array<vec4<elem>>;
@group(0) @binding(3) var<storage, read_write> y4: array<vec4<elem>>;
// The same ranges seen as scalars: the tail of a vec4 dispatch, and whole
// dispatches whose offsets are not a multiple of four elements.
@group(0) @binding(4) var<storage, read_write> x1: array<elem>;
@group(0) @binding(5) var<storage, read_write> g1: array<elem>;
@group(0) @binding(6) var<storage, read_write> y1: array<elem>;

// Whether a backward adds its result to the output's values (a gradient
// accumulated over branches or micro-batches) instead of overwriting them:
// one rounding per addition, in f32 (for f16 too: f32's 24 bits are at
// least 2 * 11 + 2, so the f32 sum rounded to f16 is the correctly rounded
// f16 sum).
override ACCUMULATE: bool = false;

// What goes into y1[i] for the result r.
fn output1(i: u32, r: elem) -> elem {
    if ACCUMULATE {
        return elem(add1(f32(y1[i]), f32(r)));
    }
    return r;
}

// What goes into y4[i] for the results r.
fn output4(i: u32, r: vec4<elem>) -> vec4<elem> {
    if ACCUMULATE {
        return vec4<elem>(add4(vec4<f32>(y4[i]), vec4<f32>(r)));
    }
    return r;
}
