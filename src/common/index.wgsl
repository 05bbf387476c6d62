// n / d for a divisor the host packed as (magic, sh1 | sh2 << 8): a
// multiply-high and two shifts (src/divisor.rs has the derivation). SIMD
// software rasterisers run a vector integer division one lane at a time.
fn div_by(n: u32, d: vec2<u32>) -> u32 {
    let t = mul_hi(d.x, n);
    return (t + ((n - t) >> (d.y & 0xffu))) >> (d.y >> 8u);
}

// The high 32 bits of the 64-bit product a * b, from 16-bit halves (no
// partial sum overflows 32 bits).
fn mul_hi(a: u32, b: u32) -> u32 {
    let al = a & 0xffffu;
    let ah = a >> 16u;
    let bl = b & 0xffffu;
    let bh = b >> 16u;
    let hl = ah * bl;
    let cross = ((al * bl) >> 16u) + (hl & 0xffffu) + al * bh;
    return ah * bh + (hl >> 16u) + (cross >> 16u);
}

// The flat index of a workgroup in a grid spread over x, y and z (past the
// per-dimension limit) with groups_x by groups_y workgroups per z layer.
fn workgroup_index(wg: vec3<u32>, groups_x: u32, groups_y: u32) -> u32 {
    return (wg.z * groups_y + wg.y) * groups_x + wg.x;
}
