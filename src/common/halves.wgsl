// f16 bit patterns two to a u32 word, for the kernels that run f16 data as
// words: masks of halves by their bit patterns, and exact conversions
// between halves and f32 by bit arithmetic (and one exact product or one
// add whose rounding is the conversion's), never the device's own f16
// conversion.

// 0xffff over each half (bits 0..16 and 16..32) of each word whose bit
// pattern lies in (above, up_to].
fn halves_in(w: vec4<u32>, above: u32, up_to: u32) -> vec4<u32> {
    let lo = w & vec4<u32>(0xffffu);
    let hi = w >> vec4<u32>(16u);
    let lo_in = (lo > vec4<u32>(above)) & (lo <= vec4<u32>(up_to));
    let hi_in = (hi > vec4<u32>(above)) & (hi <= vec4<u32>(up_to));
    return select(vec4<u32>(0u), vec4<u32>(0x0000ffffu), lo_in) | select(vec4<u32>(0u), vec4<u32>(0xffff0000u), hi_in);
}

// Negative f16: 0x8001..=0xfc00 (-inf); NaN and -0 are not.
fn negative_halves(w: vec4<u32>) -> vec4<u32> {
    return halves_in(w, 0x8000u, 0xfc00u);
}

// Positive f16: 0x0001..=0x7c00 (+inf); NaN and +0 are not.
fn positive_halves(w: vec4<u32>) -> vec4<u32> {
    return halves_in(w, 0u, 0x7c00u);
}

// Positive or NaN f16 (0x0001..=0x7fff, 0xfc01..=0xffff): where ReLU's
// and RReLU's gradients pass g. Two compares a half, as many as
// `positive_halves`: (h - 1) wraps below 0x7fff only for 0x0001..=0x7fff.
fn positive_or_nan_halves(w: vec4<u32>) -> vec4<u32> {
    let one = vec4<u32>(1u);
    let lo = w & vec4<u32>(0xffffu);
    let hi = w >> vec4<u32>(16u);
    let lo_in = ((lo - one) < vec4<u32>(0x7fffu)) | (lo > vec4<u32>(0xfc00u));
    let hi_in = ((hi - one) < vec4<u32>(0x7fffu)) | (hi > vec4<u32>(0xfc00u));
    return select(vec4<u32>(0u), vec4<u32>(0x0000ffffu), lo_in) | select(vec4<u32>(0u), vec4<u32>(0xffff0000u), hi_in);
}

// The f32 values of four f16 bit patterns (one per component, in the low
// 16 bits), exactly: a normal half or an infinity or NaN by moving its
// fields (the exponent rebiased by adding to the shifted magnitude), a
// subnormal one (m * 2^-24, a normal f32) by an exact product, so that no
// device's flushing of f32 subnormals can touch them.
fn f32_from_halves(h: vec4<u32>) -> vec4<f32> {
    let magnitude = h & vec4<u32>(0x7fffu);
    let rebias = select(vec4<u32>(0x38000000u), vec4<u32>(0x70000000u), magnitude >= vec4<u32>(0x7c00u));
    let normal = (magnitude << vec4<u32>(13u)) + rebias;
    let subnormal = bitcast<vec4<u32>>(vec4<f32>(magnitude) * 5.9604644775390625e-8);
    let bits = select(normal, subnormal, magnitude < vec4<u32>(0x400u));
    return bitcast<vec4<f32>>(bits | ((h & vec4<u32>(0x8000u)) << vec4<u32>(16u)));
}

// The f16 bit patterns of four f32 values, rounded to nearest even the way
// the CPU reference's conversion does: overflow to infinity, subnormal
// halves rounded at 2^-24, NaN kept NaN (quiet, with its top payload bits).
// Few operations, for the CPU adapters that run f16 as words.
fn halves_from_f32(v: vec4<f32>) -> vec4<u32> {
    let b = bitcast<vec4<u32>>(v);
    let a = b & vec4<u32>(0x7fffffffu);
    // Normal: rebias the exponent (127 -> 15, wrapping), then drop 13 bits
    // rounded to even by adding 0xfff and the kept last bit (a carry into
    // the exponent is right, up to infinity).
    let odd = (a >> vec4<u32>(13u)) & vec4<u32>(1u);
    let normal = (a + vec4<u32>(0xc8000fffu) + odd) >> vec4<u32>(13u);
    // Subnormal (|v| < 2^-14): adding 0.5, whose last bit is worth 2^-24,
    // rounds |v| to even at 2^-24, and the significand's bits are the half.
    // A device that flushes f32 subnormals adds zero for them: their half
    // is zero anyway.
    let subnormal = bitcast<vec4<u32>>(bitcast<vec4<f32>>(a) + vec4<f32>(0.5)) - vec4<u32>(0x3f000000u);
    let nan = vec4<u32>(0x7e00u) | ((a >> vec4<u32>(13u)) & vec4<u32>(0x3ffu));
    let large = select(vec4<u32>(0x7c00u), nan, a > vec4<u32>(0x7f800000u));
    let h = select(select(normal, subnormal, a < vec4<u32>(0x38800000u)), large, a >= vec4<u32>(0x47800000u));
    return ((b >> vec4<u32>(16u)) & vec4<u32>(0x8000u)) | h;
}
