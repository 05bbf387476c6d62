// ---- Products exact down to subnormals ------------------------------------
// Many GPUs flush f32 subnormals to zero (inputs and results of a multiply),
// where the CPU reference keeps them. Where the host finds the device does,
// it compiles the kernels with EXACT_PRODUCTS: a product whose float result
// is zero or subnormal although neither operand is zero, or NaN although
// neither operand is NaN, is recomputed here in integer arithmetic with
// IEEE round-to-nearest-even. Elsewhere the check is compiled out, and so
// it is for f16: f16 operands make f32 products and sums no smaller than
// 2^-48, never subnormal (a subnormal f32 slope's products round to an f16
// zero either way).
override EXACT_PRODUCTS: bool = false;

fn magnitude_bits(v: f32) -> u32 {
    return bitcast<u32>(v) & 0x7fffffffu;
}

// Whether the float product p = a * b may have been flushed.
fn product_suspect(a: f32, b: f32, p: f32) -> bool {
    let ma = magnitude_bits(a);
    let mb = magnitude_bits(b);
    let mp = magnitude_bits(p);
    let tiny = mp < 0x00800000u && ma != 0u && mb != 0u;
    let spurious_nan = mp > 0x7f800000u && ma <= 0x7f800000u && mb <= 0x7f800000u;
    return tiny || spurious_nan;
}

// Splits a finite non-zero magnitude into a 24-bit significand with its top
// bit set and an exponent e, value = m * 2^(e - 150).
fn unpack(bits: u32) -> vec2<u32> {
    let e = bits >> 23u;
    let f = bits & 0x7fffffu;
    if e == 0u {
        let s = countLeadingZeros(f) - 8u;
        // e may go below 1: carried as 1 - s with a bias of 32.
        return vec2<u32>(f << s, 33u - s);
    }
    return vec2<u32>(f | 0x800000u, e + 32u);
}

fn mul_exact(a: f32, b: f32) -> f32 {
    let ua = bitcast<u32>(a);
    let ub = bitcast<u32>(b);
    let sign = (ua ^ ub) & 0x80000000u;
    let ma = ua & 0x7fffffffu;
    let mb = ub & 0x7fffffffu;
    // The NaNs are x86's, as the CPU reference's (src/cpu.rs `mul`): IEEE
    // leaves them open, and a fixed choice keeps this path deterministic.
    if mb > 0x7f800000u {
        return bitcast<f32>(ub | 0x00400000u); // the value's NaN, quieted
    }
    if ma > 0x7f800000u {
        return bitcast<f32>(ua | 0x00400000u);
    }
    if ma == 0x7f800000u || mb == 0x7f800000u {
        if ma == 0u || mb == 0u {
            return bitcast<f32>(0xffc00000u); // inf * 0: the default NaN
        }
        return bitcast<f32>(sign | 0x7f800000u);
    }
    if ma == 0u || mb == 0u {
        return bitcast<f32>(sign);
    }
    let pa = unpack(ma);
    let pb = unpack(mb);
    // The 48-bit product of the significands, as 12-bit pieces so that no
    // partial product overflows 32 bits: p = hi * 2^24 + lo.
    let al = pa.x & 0xfffu;
    let ah = pa.x >> 12u;
    let bl = pb.x & 0xfffu;
    let bh = pb.x >> 12u;
    let mid = ah * bl + al * bh;
    var lo = al * bl + ((mid & 0xfffu) << 12u);
    let hi = ah * bh + (mid >> 12u) + (lo >> 24u);
    lo = lo & 0xffffffu;
    // Leading bit of p at 47 or 46. value = p * 2^(ea + eb - 300), with
    // each exponent carrying a bias of 32 here.
    let top = select(46u, 47u, hi >= 0x800000u);
    let exponents = i32(pa.y) + i32(pb.y) - 64;
    // Biased result exponent if normal; below 1 the result is subnormal and
    // is rounded at 2^-149 instead.
    let biased = i32(top) + exponents - 173;
    let shift = u32(max(i32(top) - 23, 151 - exponents));
    if biased >= 255 {
        return bitcast<f32>(sign | 0x7f800000u);
    }
    if shift >= 49u {
        return bitcast<f32>(sign); // below half the smallest subnormal
    }
    // q = p >> shift, rounded to nearest even. p as 64 bits: h32:l32.
    let l32 = lo | (hi << 24u);
    let h32 = hi >> 8u;
    var q: u32;
    var round_bit: u32;
    var sticky: bool;
    if shift < 32u {
        q = (l32 >> shift) | (h32 << (32u - shift));
        round_bit = (l32 >> (shift - 1u)) & 1u;
        sticky = (l32 & ((1u << (shift - 1u)) - 1u)) != 0u;
    } else if shift == 32u {
        q = h32;
        round_bit = l32 >> 31u;
        sticky = (l32 & 0x7fffffffu) != 0u;
    } else {
        q = h32 >> (shift - 32u);
        round_bit = (h32 >> (shift - 33u)) & 1u;
        sticky = l32 != 0u || (h32 & ((1u << (shift - 33u)) - 1u)) != 0u;
    }
    if round_bit == 1u && (sticky || (q & 1u) == 1u) {
        q += 1u;
    }
    // q holds the implicit bit when normal: adding it to the exponent field
    // also carries a rounding overflow into the exponent.
    let field = u32(max(biased, 1));
    return bitcast<f32>(sign | ((field << 23u) + q - 0x800000u));
}

fn mul1(a: f32, b: f32) -> f32 {
    let p = a * b;
    if EXACT_PRODUCTS {
        if product_suspect(a, b, p) {
            return mul_exact(a, b);
        }
    }
    return p;
}

fn mul4(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
    var p = a * b;
    if EXACT_PRODUCTS {
        // One vector test first: a product can only be suspect if it is
        // zero, subnormal or NaN.
        let m = bitcast<vec4<u32>>(p) & vec4<u32>(0x7fffffffu);
        if any((m < vec4<u32>(0x00800000u)) | (m > vec4<u32>(0x7f800000u))) {
            for (var i = 0u; i < 4u; i++) {
                if product_suspect(a[i], b[i], p[i]) {
                    p[i] = mul_exact(a[i], b[i]);
                }
            }
        }
    }
    return p;
}
