// x > 0 and x < 0 as bit tests, shared by every family. WGSL lets a
// compiler assume there is no NaN, so `x > 0.0` could be rewritten into
// something that is true for NaN; integer compares cannot. Positive: 0x00000001..=0x7f800000 (+inf);
// negative: 0x80000001..=0xff800000 (-inf); NaN and +-0 are neither.
fn is_positive1(x: f32) -> bool {
    let b = bitcast<i32>(x);
    return b > 0 && b <= 0x7f800000;
}

fn is_positive4(x: vec4<f32>) -> vec4<bool> {
    let b = bitcast<vec4<i32>>(x);
    return (b > vec4<i32>(0)) & (b <= vec4<i32>(0x7f800000));
}

fn is_negative1(x: f32) -> bool {
    let b = bitcast<u32>(x);
    return b > 0x80000000u && b <= 0xff800000u;
}

fn is_negative4(x: vec4<f32>) -> vec4<bool> {
    let b = bitcast<vec4<u32>>(x);
    return (b > vec4<u32>(0x80000000u)) & (b <= vec4<u32>(0xff800000u));
}
