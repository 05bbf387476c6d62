// f32 additions that keep subnormals where the device flushes them
// (EXACT_PRODUCTS): an addition with a subnormal operand or a
// zero-or-subnormal result from non-zero operands is redone with both
// operands scaled by 2^64 (exactly, in the exponent bits), where nothing is
// subnormal, and the sum scaled back. That is IEEE's sum, rounded once: a
// scaled sum that is normal unscaled rounds as the unscaled one would, and
// one below 2^-126 unscaled is exact (every float is a multiple of 2^-149,
// and so is their sum), so scaling it back rounds nothing. Operands of
// 2^64 and more skip it: a subnormal is far below half their unit there.
fn is_subnormal(v: f32) -> bool {
    let m = magnitude_bits(v);
    return m != 0u && m < 0x00800000u;
}

fn scale_up_64(v: f32) -> f32 {
    let bits = bitcast<u32>(v);
    let sign = bits & 0x80000000u;
    let m = bits & 0x7fffffffu;
    if m == 0u {
        return v;
    }
    if m < 0x00800000u {
        // m * 2^-149 with its leading bit at p: 2^(p - 149) * 1.f.
        let p = 31u - countLeadingZeros(m);
        return bitcast<f32>(sign | ((p + 42u) << 23u) | ((m << (23u - p)) & 0x7fffffu));
    }
    return bitcast<f32>(bits + (64u << 23u));
}

fn scale_down_64(v: f32) -> f32 {
    let bits = bitcast<u32>(v);
    let sign = bits & 0x80000000u;
    let e = (bits >> 23u) & 0xffu;
    if e == 0u || e == 255u {
        return v;
    }
    if e > 64u {
        return bitcast<f32>(bits - (64u << 23u));
    }
    // Subnormal result: shift the significand right, rounding to even.
    let significand = (bits & 0x7fffffu) | 0x800000u;
    let shift = 65u - e;
    if shift > 24u {
        return bitcast<f32>(sign);
    }
    var q = significand >> shift;
    let round_bit = (significand >> (shift - 1u)) & 1u;
    let sticky = (significand & ((1u << (shift - 1u)) - 1u)) != 0u;
    if round_bit == 1u && (sticky || (q & 1u) == 1u) {
        q += 1u;
    }
    return bitcast<f32>(sign | q);
}

fn add1(a: f32, b: f32) -> f32 {
    let s = a + b;
    if EXACT_PRODUCTS {
        let big = max(magnitude_bits(a), magnitude_bits(b)) >= (191u << 23u);
        let suspect = is_subnormal(a) || is_subnormal(b)
            || (magnitude_bits(s) < 0x00800000u && (magnitude_bits(a) | magnitude_bits(b)) != 0u && magnitude_bits(s) != 0u)
            || (magnitude_bits(s) == 0u && bitcast<u32>(a) != (bitcast<u32>(b) ^ 0x80000000u) && (magnitude_bits(a) | magnitude_bits(b)) != 0u);
        if suspect && !big {
            return scale_down_64(scale_up_64(a) + scale_up_64(b));
        }
    }
    return s;
}

fn add4(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
    if EXACT_PRODUCTS {
        return vec4<f32>(add1(a.x, b.x), add1(a.y, b.y), add1(a.z, b.z), add1(a.w, b.w));
    }
    return a + b;
}

