// The element-wise entry points with a 1-bit mask (the layout is
// src/mask.rs's: element i at bit i % 32 of word i / 32, bits past the end
// zero). A forward writes the mask beside y; a backward reads it instead of
// x. The family supplies, besides the element-wise functions:
//   passes1(x) / passes4(x): the predicate its backward takes g on;
//   passes_words(x): 0xffff over each half of a word that passes;
//   backward_given1/4(passes, g), backward_given_words(passes, g): its
//     backward with the predicate already known.
// A forward's invocation takes whole mask words, 32 consecutive elements,
// so that no two write to one word: no atomics and no barriers, and the
// mask does not depend on scheduling. Dispatches start at a multiple of 32
// elements, so word w of a dispatch holds its elements 32w..32w + 31.
@group(0) @binding(8) var<storage, read_write> mask: array<u32>;

// Four predicates as bits 0..3.
fn bits_of4(p: vec4<bool>) -> u32 {
    let b = select(vec4<u32>(0u), vec4<u32>(1u, 2u, 4u, 8u), p);
    return b.x | b.y | b.z | b.w;
}

// Masks of passing halves (0xffff each) of a vec4<u32> as bits 0..7, the
// low half of each word first.
fn bits_of_halves(p: vec4<u32>) -> u32 {
    let b = (p & vec4<u32>(1u)) | ((p >> vec4<u32>(15u)) & vec4<u32>(2u));
    return b.x | (b.y << 2u) | (b.z << 4u) | (b.w << 6u);
}

// The mask from element e of the dispatch on, in the low bits.
fn mask_bits(e: u32) -> u32 {
    return mask[params.geometry.m_off + e / 32u] >> (e % 32u);
}

fn passes_of4(bits: u32) -> vec4<bool> {
    return (vec4<u32>(bits) & vec4<u32>(1u, 2u, 4u, 8u)) != vec4<u32>(0u);
}

// bits_of_halves undone: bit 2k to the low half of word k, 2k + 1 to its
// high half.
fn passing_halves_of(bits: u32) -> vec4<u32> {
    let b = vec4<u32>(bits) >> vec4<u32>(0u, 2u, 4u, 6u);
    let lo = select(vec4<u32>(0u), vec4<u32>(0x0000ffffu), (b & vec4<u32>(1u)) != vec4<u32>(0u));
    let hi = select(vec4<u32>(0u), vec4<u32>(0xffff0000u), (b & vec4<u32>(2u)) != vec4<u32>(0u));
    return lo | hi;
}

// An invocation per mask word: eight vec4s, or the tail's scalars.
@compute @workgroup_size(WG)
fn forward_masked_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let geo = params.geometry;
    let w = flat_workgroup(wg) * WG + lid;
    let first = w * 32u;
    if first >= geo.len {
        return;
    }
    var bits = 0u;
    if geo.len - first >= 32u {
        let xo = geo.x_off / 4u + w * 8u;
        let yo = geo.y_off / 4u + w * 8u;
        for (var j = 0u; j < 8u; j++) {
            let x = x4[xo + j];
            y4[yo + j] = forward4(x, first + j * 4u);
            bits |= bits_of4(passes4(x)) << (j * 4u);
        }
    } else {
        for (var j = 0u; j < geo.len - first; j++) {
            let e = first + j;
            let x = x1[geo.x_off + e];
            y1[geo.y_off + e] = forward1(x, e);
            bits |= select(0u, 1u << j, passes1(x));
        }
    }
    mask[geo.m_off + w] = bits;
}

@compute @workgroup_size(WG)
fn forward_masked_scalar(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let geo = params.geometry;
    let w = flat_workgroup(wg) * WG + lid;
    let first = w * 32u;
    if first >= geo.len {
        return;
    }
    var bits = 0u;
    for (var j = 0u; j < min(32u, geo.len - first); j++) {
        let e = first + j;
        let x = x1[geo.x_off + e];
        y1[geo.y_off + e] = forward1(x, e);
        bits |= select(0u, 1u << j, passes1(x));
    }
    mask[geo.m_off + w] = bits;
}

// f16 as u32 words (len and offsets in words): a mask word is sixteen
// words, four vec4<u32>s.
@compute @workgroup_size(WG)
fn forward_masked_packed(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let geo = params.geometry;
    let w = flat_workgroup(wg) * WG + lid;
    let first = w * 16u;
    if first >= geo.len {
        return;
    }
    var bits = 0u;
    if geo.len - first >= 16u {
        let xo = geo.x_off / 4u + w * 4u;
        let yo = geo.y_off / 4u + w * 4u;
        for (var j = 0u; j < 4u; j++) {
            let x = xw4[xo + j];
            yw4[yo + j] = forward_words(x);
            bits |= bits_of_halves(passes_words(x)) << (j * 8u);
        }
    } else {
        for (var j = 0u; j < geo.len - first; j++) {
            let e = first + j;
            let x = vec4<u32>(xw1[geo.x_off + e]);
            yw1[geo.y_off + e] = forward_words(x).x;
            bits |= (bits_of_halves(passes_words(x)) & 3u) << (j * 2u);
        }
    }
    mask[geo.m_off + w] = bits;
}

// The backward from the mask, laid out as backward_vec4 (neighbouring
// invocations, neighbouring vec4s; eight share a mask word).
@compute @workgroup_size(WG)
fn backward_masked_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let geo = params.geometry;
    let n4 = geo.len / 4u;
    let group = flat_workgroup(wg);
    let base = group * WG * ITEMS + lid;
    let go = geo.g_off / 4u;
    let yo = geo.y_off / 4u;
    for (var k = 0u; k < ITEMS; k++) {
        let v = base + k * WG;
        if v < n4 {
            let p = passes_of4(mask_bits(v * 4u));
            y4[yo + v] = output4(yo + v, backward_given4(p, g4[go + v]));
        }
    }
    let t = group * WG + lid;
    if t < geo.len % 4u {
        let e = n4 * 4u + t;
        let p = (mask_bits(e) & 1u) != 0u;
        y1[geo.y_off + e] = output1(geo.y_off + e, backward_given1(p, g1[geo.g_off + e]));
    }
}

@compute @workgroup_size(WG)
fn backward_masked_scalar(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let geo = params.geometry;
    let base = flat_workgroup(wg) * WG * ITEMS + lid;
    for (var k = 0u; k < ITEMS; k++) {
        let e = base + k * WG;
        if e < geo.len {
            let p = (mask_bits(e) & 1u) != 0u;
            y1[geo.y_off + e] = output1(geo.y_off + e, backward_given1(p, g1[geo.g_off + e]));
        }
    }
}

// Word v of the dispatch holds halves 2v and 2v + 1.
@compute @workgroup_size(WG)
fn backward_masked_packed(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let geo = params.geometry;
    let n4 = geo.len / 4u;
    let group = flat_workgroup(wg);
    let base = group * WG * ITEMS + lid;
    let go = geo.g_off / 4u;
    let yo = geo.y_off / 4u;
    for (var k = 0u; k < ITEMS; k++) {
        let v = base + k * WG;
        if v < n4 {
            let p = passing_halves_of(mask_bits(v * 8u));
            yw4[yo + v] = output_words4(yo + v, backward_given_words(p, gw4[go + v]));
        }
    }
    let t = group * WG + lid;
    if t < geo.len % 4u {
        let e = n4 * 4u + t;
        let p = passing_halves_of(mask_bits(e * 2u) & 3u);
        let g = vec4<u32>(gw1[geo.g_off + e]);
        yw1[geo.y_off + e] = output_words1(geo.y_off + e, backward_given_words(p, g).x);
    }
}
