// Philox-4x32-10 (Salmon, Moraes, Dror and Shaw, "Parallel random numbers:
// as easy as 1, 2, 3", SC 2011; the generator of Random123, cuRAND and
// PyTorch's CUDA random numbers): four 32-bit words from a 128-bit counter
// and a 64-bit key, ten rounds of two 32x32 -> 64-bit products, from
// `mul_wide` (src/common/wide.wgsl: exact from 16-bit pieces, or with u64
// where the device has 64-bit integers). The CPU twin is
// `cpu::philox4x32_10`.

const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
// The key's increments between rounds (the golden ratio and sqrt(3) - 1).
const PHILOX_W0: u32 = 0x9E3779B9u;
const PHILOX_W1: u32 = 0xBB67AE85u;

fn philox4x32_10(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var round = 0u; round < 10u; round++) {
        if round > 0u {
            k += vec2<u32>(PHILOX_W0, PHILOX_W1);
        }
        let p0 = mul_wide(PHILOX_M0, c.x);
        let p1 = mul_wide(PHILOX_M1, c.z);
        c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
    }
    return c;
}
