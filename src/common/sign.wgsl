// x > 0 and x < 0 as bit tests, shared by every family. WGSL lets a
// compiler assume there is no NaN, so `x > 0.0` could be rewritten into
// something that is true for NaN; integer compares cannot. Positive: 0x00000001..=0x7f800000 (+inf);
// negative: 0x80000001..=0xff800000 (-inf); NaN and +-0 are neither.
//
// FLOAT_COMPARES: the float compare itself, where the host knows the
// compiler keeps IEEE's ordered compares (lavapipe: LLVM's `fcmp ogt`,
// false for NaN and for -0 > 0; not llvmpipe under GL, whose front end
// makes `x < 0.0` true for NaN and -0) and the test suite holds it to the
// bits. The same answers; on lavapipe a select by an integer compare of
// float data, summed (the weight gradient), cost its backward 7-16%.
override FLOAT_COMPARES: bool = false;

fn is_positive1(x: f32) -> bool {
    if FLOAT_COMPARES {
        return x > 0.0;
    }
    let b = bitcast<i32>(x);
    return b > 0 && b <= 0x7f800000;
}

fn is_positive4(x: vec4<f32>) -> vec4<bool> {
    if FLOAT_COMPARES {
        return x > vec4<f32>(0.0);
    }
    let b = bitcast<vec4<i32>>(x);
    return (b > vec4<i32>(0)) & (b <= vec4<i32>(0x7f800000));
}

fn is_negative1(x: f32) -> bool {
    if FLOAT_COMPARES {
        return x < 0.0;
    }
    let b = bitcast<u32>(x);
    return b > 0x80000000u && b <= 0xff800000u;
}

fn is_negative4(x: vec4<f32>) -> vec4<bool> {
    if FLOAT_COMPARES {
        return x < vec4<f32>(0.0);
    }
    let b = bitcast<vec4<u32>>(x);
    return (b > vec4<u32>(0x80000000u)) & (b <= vec4<u32>(0xff800000u));
}
