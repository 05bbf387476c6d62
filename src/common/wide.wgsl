// The 64-bit product of two u32s as (high, low) words, exactly: the high
// word from mul_hi's 16-bit pieces. On a device with 64-bit integers
// (SHADER_INT64) the engine swaps in wide64.wgsl, the same product with one
// multiply: the same bits, in a fraction of a software rasteriser's time.
fn mul_wide(a: u32, b: u32) -> vec2<u32> {
    return vec2<u32>(mul_hi(a, b), a * b);
}
