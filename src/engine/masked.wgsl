// The element-wise entry points with a 1-bit mask. A forward writes the
// mask beside y; a backward reads it instead of x. The family supplies,
// besides the element-wise functions:
//   passes1(x) / passes4(x): the predicate its backward takes g on;
//   passes_words(x): 0xffff over each half of a word that passes;
//   backward_given1/4/words(passes, g): its backward, the predicate known.
//
// The layout (src/mask.rs documents it for apps) follows the invocations:
// the elements come in blocks of 8192, one workgroup a block; invocation l
// of a block owns mask word l and the vec4s l, l + 256, ..., l + 7 * 256
// of the block, vec4 k in bits 4k..4k + 3. So every invocation loads and
// stores neighbouring memory to its neighbours', reads or writes one whole
// word of the mask, and no two write one word: no atomics, no barriers,
// nothing that depends on scheduling. Dispatches start on a block.
@group(0) @binding(8) var<storage, read_write> mask: array<u32>;
// The f16 word path takes a vec4 of halves as two u32s.
@group(0) @binding(18) var<storage, read_write> xw2: array<vec2<u32>>;
@group(0) @binding(19) var<storage, read_write> gw2: array<vec2<u32>>;
@group(0) @binding(20) var<storage, read_write> yw2: array<vec2<u32>>;

// Four predicates as bits 0..3.
fn bits_of4(p: vec4<bool>) -> u32 {
    let b = select(vec4<u32>(0u), vec4<u32>(1u, 2u, 4u, 8u), p);
    return b.x | b.y | b.z | b.w;
}

fn passes_of4(bits: u32) -> vec4<bool> {
    return (vec4<u32>(bits) & vec4<u32>(1u, 2u, 4u, 8u)) != vec4<u32>(0u);
}

// Masks of passing halves (0xffff each) of a vec4<u32> as bits 0..7, the
// low half of each word first: element order.
fn bits_of_halves(p: vec4<u32>) -> u32 {
    let b = (p & vec4<u32>(1u)) | ((p >> vec4<u32>(15u)) & vec4<u32>(2u));
    return b.x | (b.y << 2u) | (b.z << 4u) | (b.w << 6u);
}

// bits_of_halves undone.
fn passing_halves_of(bits: u32) -> vec4<u32> {
    let b = vec4<u32>(bits) >> vec4<u32>(0u, 2u, 4u, 6u);
    let lo = select(vec4<u32>(0u), vec4<u32>(0x0000ffffu), (b & vec4<u32>(1u)) != vec4<u32>(0u));
    let hi = select(vec4<u32>(0u), vec4<u32>(0xffff0000u), (b & vec4<u32>(2u)) != vec4<u32>(0u));
    return lo | hi;
}

// The invocation's mask word and its first vec4, both relative to the
// dispatch, or none past the end (`first` then >= len / 4 rounded up).
struct Owned {
    word: u32,
    first: u32,
}

fn owned(wg: vec3<u32>, lid: u32) -> Owned {
    let block = flat_workgroup(wg);
    return Owned(block * WG + lid, block * WG * 8u + lid);
}

// Elements of the vec4 v (relative to the dispatch) inside the dispatch.
fn present(v: u32) -> u32 {
    return min(params.geometry.len - min(params.geometry.len, v * 4u), 4u);
}

// The forward of the elements of vec4 v, an invocation's k-th, one by one
// (scalar offsets, or the tail): y, and their bits in place in the word.
fn forward_scalars(v: u32, k: u32) -> u32 {
    let geo = params.geometry;
    var bits = 0u;
    for (var c = 0u; c < present(v); c++) {
        let e = v * 4u + c;
        let x = x1[geo.x_off + e];
        y1[geo.y_off + e] = forward1(x, e);
        bits |= select(0u, 1u, passes1(x)) << (4u * k + c);
    }
    return bits;
}

// The backward of the elements of vec4 v, an invocation's k-th, one by one,
// from the invocation's mask word.
fn backward_scalars(v: u32, k: u32, bits: u32) {
    let geo = params.geometry;
    for (var c = 0u; c < present(v); c++) {
        let e = v * 4u + c;
        let p = ((bits >> (4u * k + c)) & 1u) != 0u;
        y1[geo.y_off + e] = output1(geo.y_off + e, backward_given1(p, g1[geo.g_off + e]));
    }
}

@compute @workgroup_size(WG)
fn forward_masked_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let geo = params.geometry;
    let o = owned(wg, lid);
    if present(o.first) == 0u {
        return;
    }
    let xo = geo.x_off / 4u;
    let yo = geo.y_off / 4u;
    var bits = 0u;
    if present(o.first + 7u * WG) == 4u {
        // The invocation's eight vec4s are all there: no test in the loop.
        var lanes = vec4<u32>(0u);
        for (var k = 0u; k < 8u; k++) {
            let v = o.first + k * WG;
            let x = x4[xo + v];
            y4[yo + v] = forward4(x, v * 4u);
            lanes |= select(vec4<u32>(0u), vec4<u32>(1u, 2u, 4u, 8u) << vec4<u32>(4u * k), passes4(x));
        }
        mask[geo.m_off + o.word] = lanes.x | lanes.y | lanes.z | lanes.w;
        return;
    }
    for (var k = 0u; k < 8u; k++) {
        let v = o.first + k * WG;
        let n = present(v);
        if n == 4u {
            let x = x4[xo + v];
            y4[yo + v] = forward4(x, v * 4u);
            bits |= bits_of4(passes4(x)) << (4u * k);
        } else {
            bits |= forward_scalars(v, k);
        }
    }
    mask[geo.m_off + o.word] = bits;
}

// Offsets that are not a multiple of four: the same elements one by one.
@compute @workgroup_size(WG)
fn forward_masked_scalar(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let geo = params.geometry;
    let o = owned(wg, lid);
    if present(o.first) == 0u {
        return;
    }
    var bits = 0u;
    for (var k = 0u; k < 8u; k++) {
        bits |= forward_scalars(o.first + k * WG, k);
    }
    mask[geo.m_off + o.word] = bits;
}

// f16 as u32 words, two vec4s of halves (k and k + 1) at a time; offsets
// in halves here too (multiples of four), the tail's halves one by one.
@compute @workgroup_size(WG)
fn forward_masked_packed(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let geo = params.geometry;
    let o = owned(wg, lid);
    if present(o.first) == 0u {
        return;
    }
    let xo = geo.x_off / 4u;
    let yo = geo.y_off / 4u;
    var bits = 0u;
    if present(o.first + 7u * WG) == 4u {
        for (var k = 0u; k < 8u; k += 2u) {
            let v0 = o.first + k * WG;
            let v1 = v0 + WG;
            let x = vec4<u32>(xw2[xo + v0], xw2[xo + v1]);
            let y = forward_words(x);
            yw2[yo + v0] = y.xy;
            yw2[yo + v1] = y.zw;
            bits |= bits_of_halves(passes_words(x)) << (4u * k);
        }
        mask[geo.m_off + o.word] = bits;
        return;
    }
    for (var k = 0u; k < 8u; k += 2u) {
        let v0 = o.first + k * WG;
        let v1 = v0 + WG;
        if present(v1) == 4u {
            let x = vec4<u32>(xw2[xo + v0], xw2[xo + v1]);
            let y = forward_words(x);
            yw2[yo + v0] = y.xy;
            yw2[yo + v1] = y.zw;
            bits |= bits_of_halves(passes_words(x)) << (4u * k);
        } else {
            bits |= forward_scalars(v0, k) | forward_scalars(v1, k + 1u);
        }
    }
    mask[geo.m_off + o.word] = bits;
}

@compute @workgroup_size(WG)
fn backward_masked_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let geo = params.geometry;
    let o = owned(wg, lid);
    if present(o.first) == 0u {
        return;
    }
    let go = geo.g_off / 4u;
    let yo = geo.y_off / 4u;
    let bits = mask[geo.m_off + o.word];
    if present(o.first + 7u * WG) == 4u {
        for (var k = 0u; k < 8u; k++) {
            let v = o.first + k * WG;
            let p = passes_of4(bits >> (4u * k));
            y4[yo + v] = output4(yo + v, backward_given4(p, g4[go + v]));
        }
        return;
    }
    for (var k = 0u; k < 8u; k++) {
        let v = o.first + k * WG;
        let n = present(v);
        if n == 4u {
            let p = passes_of4(bits >> (4u * k));
            y4[yo + v] = output4(yo + v, backward_given4(p, g4[go + v]));
        } else {
            backward_scalars(v, k, bits);
        }
    }
}

@compute @workgroup_size(WG)
fn backward_masked_scalar(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let geo = params.geometry;
    let o = owned(wg, lid);
    if present(o.first) == 0u {
        return;
    }
    let bits = mask[geo.m_off + o.word];
    for (var k = 0u; k < 8u; k++) {
        backward_scalars(o.first + k * WG, k, bits);
    }
}

@compute @workgroup_size(WG)
fn backward_masked_packed(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let geo = params.geometry;
    let o = owned(wg, lid);
    if present(o.first) == 0u {
        return;
    }
    let go = geo.g_off / 4u;
    let yo = geo.y_off / 4u;
    let bits = mask[geo.m_off + o.word];
    if present(o.first + 7u * WG) == 4u {
        for (var k = 0u; k < 8u; k += 2u) {
            let v0 = o.first + k * WG;
            let v1 = v0 + WG;
            let p = passing_halves_of(bits >> (4u * k));
            var r = backward_given_words(p, vec4<u32>(gw2[go + v0], gw2[go + v1]));
            if ACCUMULATE {
                r = add_halves(vec4<u32>(yw2[yo + v0], yw2[yo + v1]), r);
            }
            yw2[yo + v0] = r.xy;
            yw2[yo + v1] = r.zw;
        }
        return;
    }
    for (var k = 0u; k < 8u; k += 2u) {
        let v0 = o.first + k * WG;
        let v1 = v0 + WG;
        if present(v1) == 4u {
            let p = passing_halves_of(bits >> (4u * k));
            var r = backward_given_words(p, vec4<u32>(gw2[go + v0], gw2[go + v1]));
            if ACCUMULATE {
                r = add_halves(vec4<u32>(yw2[yo + v0], yw2[yo + v1]), r);
            }
            yw2[yo + v0] = r.xy;
            yw2[yo + v1] = r.zw;
        } else {
            backward_scalars(v0, k, bits);
            backward_scalars(v1, k + 1u, bits);
        }
    }
}
