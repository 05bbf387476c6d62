// The tensors of tensors.wgsl seen as scalars of `elem`: the tail of a vec4
// dispatch, and whole dispatches whose offsets are not a multiple of four
// elements. Also whether a backward accumulates into its output.
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
