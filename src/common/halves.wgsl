// f16 bit patterns two to a u32 word, for the kernels that run f16 data as
// words: masks of halves by their bit patterns, and exact conversions
// between halves and f32 in integer arithmetic.

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

// The f32 values of four f16 bit patterns (one per component, in the low
// 16 bits), exactly: normal halves by moving the fields, subnormal ones
// (m * 2^-24, a normal f32) by an exact product, so that no device's
// flushing of f32 subnormals can touch them.
fn f32_from_halves(h: vec4<u32>) -> vec4<f32> {
    let sign = (h & vec4<u32>(0x8000u)) << vec4<u32>(16u);
    let e = (h >> vec4<u32>(10u)) & vec4<u32>(0x1fu);
    let m = h & vec4<u32>(0x3ffu);
    let normal = sign | ((e + vec4<u32>(112u)) << vec4<u32>(23u)) | (m << vec4<u32>(13u));
    let special = sign | vec4<u32>(0x7f800000u) | (m << vec4<u32>(13u));
    let subnormal = bitcast<vec4<u32>>(vec4<f32>(m) * 5.9604644775390625e-8) | sign;
    let bits = select(select(normal, special, e == vec4<u32>(31u)), subnormal, e == vec4<u32>(0u));
    return bitcast<vec4<f32>>(bits);
}

// The f16 bit patterns of four f32 values, rounded to nearest even the way
// the CPU reference's conversion does: overflow to infinity, subnormal
// halves rounded at 2^-24, NaN kept NaN (quiet, with its top payload bits).
fn halves_from_f32(v: vec4<f32>) -> vec4<u32> {
    let b = bitcast<vec4<u32>>(v);
    let sign = (b >> vec4<u32>(16u)) & vec4<u32>(0x8000u);
    let a = b & vec4<u32>(0x7fffffffu);
    // Normal: rebias the exponent (127 -> 15), drop 13 bits, round to even
    // (a carry into the exponent is right, up to infinity).
    let r = a - vec4<u32>(0x38000000u);
    let dropped = r & vec4<u32>(0x1fffu);
    let up = (dropped > vec4<u32>(0x1000u)) | ((dropped == vec4<u32>(0x1000u)) & ((r & vec4<u32>(0x2000u)) != vec4<u32>(0u)));
    let normal = (r >> vec4<u32>(13u)) + select(vec4<u32>(0u), vec4<u32>(1u), up);
    // Subnormal: the significand with its implicit bit, shifted right by
    // 126 - e (14..=24 for 2^-25 <= |v| < 2^-14), rounded to even.
    let e = a >> vec4<u32>(23u);
    // (Clamped to 1..=31 so that lanes which take another case shift by a
    // defined amount.)
    let shift = clamp(vec4<u32>(126u) - min(e, vec4<u32>(126u)), vec4<u32>(1u), vec4<u32>(31u));
    let significand = (a & vec4<u32>(0x7fffffu)) | vec4<u32>(0x800000u);
    let half_unit = vec4<u32>(1u) << (shift - vec4<u32>(1u));
    let rest = significand & ((half_unit << vec4<u32>(1u)) - vec4<u32>(1u));
    let q = significand >> shift;
    let sub_up = (rest > half_unit) | ((rest == half_unit) & ((q & vec4<u32>(1u)) != vec4<u32>(0u)));
    let subnormal = q + select(vec4<u32>(0u), vec4<u32>(1u), sub_up);
    var h = select(subnormal, normal, a >= vec4<u32>(0x38800000u));
    h = select(h, vec4<u32>(0u), a < vec4<u32>(0x33000001u));
    h = select(h, vec4<u32>(0x7c00u), a >= vec4<u32>(0x477ff000u));
    let nan = vec4<u32>(0x7e00u) | ((a >> vec4<u32>(13u)) & vec4<u32>(0x3ffu));
    h = select(h, nan, a > vec4<u32>(0x7f800000u));
    return sign | (h & vec4<u32>(0xffffu));
}
