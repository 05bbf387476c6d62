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

// One whole vec4 v of the forward: y, and the predicates for the mask.
fn forward_vec4_item(v: u32) -> vec4<bool> {
    let geo = params.geometry;
    let x = x4[geo.x_off / 4u + v];
    y4[geo.y_off / 4u + v] = forward4(x, v * 4u);
    return passes4(x);
}

// Two whole vec4s of halves, v0 and v1, of the forward as words: y, and
// their 8 bits.
fn forward_words_pair(v0: u32, v1: u32) -> u32 {
    let geo = params.geometry;
    let x = vec4<u32>(xw2[geo.x_off / 4u + v0], xw2[geo.x_off / 4u + v1]);
    let y = forward_words(x);
    yw2[geo.y_off / 4u + v0] = y.xy;
    yw2[geo.y_off / 4u + v1] = y.zw;
    return bits_of_halves(passes_words(x));
}

// One whole vec4 v of the backward, from its four bits.
fn backward_vec4_item(v: u32, bits: u32) {
    let geo = params.geometry;
    let yo = geo.y_off / 4u + v;
    y4[yo] = output4(yo, backward_given4(passes_of4(bits), g4[geo.g_off / 4u + v]));
}

// Two whole vec4s of halves of the backward as words, from their 8 bits.
fn backward_words_pair(v0: u32, v1: u32, bits: u32) {
    let geo = params.geometry;
    let go = geo.g_off / 4u;
    let yo = geo.y_off / 4u;
    var r = backward_given_words(passing_halves_of(bits), vec4<u32>(gw2[go + v0], gw2[go + v1]));
    if ACCUMULATE {
        r = add_halves(vec4<u32>(yw2[yo + v0], yw2[yo + v1]), r);
    }
    yw2[yo + v0] = r.xy;
    yw2[yo + v1] = r.zw;
}

@compute @workgroup_size(WG)
fn forward_masked_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = owned(wg, lid);
    if present(o.first) == 0u {
        return;
    }
    var bits = 0u;
    if present(o.first + 7u * WG) == 4u {
        // The invocation's eight vec4s are all there: a loop without tests
        // (measured: the tests in the loop cost a tenth of the kernel).
        var lanes = vec4<u32>(0u);
        for (var k = 0u; k < 8u; k++) {
            let p = forward_vec4_item(o.first + k * WG);
            lanes |= select(vec4<u32>(0u), vec4<u32>(1u, 2u, 4u, 8u) << vec4<u32>(4u * k), p);
        }
        bits = lanes.x | lanes.y | lanes.z | lanes.w;
    } else {
        for (var k = 0u; k < 8u; k++) {
            let v = o.first + k * WG;
            if present(v) == 4u {
                bits |= bits_of4(forward_vec4_item(v)) << (4u * k);
            } else {
                bits |= forward_scalars(v, k);
            }
        }
    }
    mask[params.geometry.m_off + o.word] = bits;
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
    let o = owned(wg, lid);
    if present(o.first) == 0u {
        return;
    }
    var bits = 0u;
    if present(o.first + 7u * WG) == 4u {
        // All eight vec4s there: a loop without tests (one loop with the
        // test `whole || present(v1) == 4u` measured 1.2-1.5x slower).
        for (var k = 0u; k < 8u; k += 2u) {
            bits |= forward_words_pair(o.first + k * WG, o.first + (k + 1u) * WG) << (4u * k);
        }
        mask[params.geometry.m_off + o.word] = bits;
        return;
    }
    for (var k = 0u; k < 8u; k += 2u) {
        let v0 = o.first + k * WG;
        let v1 = v0 + WG;
        if present(v1) == 4u {
            bits |= forward_words_pair(v0, v1) << (4u * k);
        } else {
            bits |= forward_scalars(v0, k) | forward_scalars(v1, k + 1u);
        }
    }
    mask[params.geometry.m_off + o.word] = bits;
}

@compute @workgroup_size(WG)
fn backward_masked_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = owned(wg, lid);
    if present(o.first) == 0u {
        return;
    }
    let bits = mask[params.geometry.m_off + o.word];
    if present(o.first + 7u * WG) == 4u {
        // All eight vec4s there: a loop without tests, as the forward's.
        for (var k = 0u; k < 8u; k++) {
            backward_vec4_item(o.first + k * WG, bits >> (4u * k));
        }
        return;
    }
    for (var k = 0u; k < 8u; k++) {
        let v = o.first + k * WG;
        if present(v) == 4u {
            backward_vec4_item(v, bits >> (4u * k));
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
    let o = owned(wg, lid);
    if present(o.first) == 0u {
        return;
    }
    let bits = mask[params.geometry.m_off + o.word];
    if present(o.first + 7u * WG) == 4u {
        for (var k = 0u; k < 8u; k += 2u) {
            backward_words_pair(o.first + k * WG, o.first + (k + 1u) * WG, bits >> (4u * k));
        }
        return;
    }
    for (var k = 0u; k < 8u; k += 2u) {
        let v0 = o.first + k * WG;
        let v1 = v0 + WG;
        if present(v1) == 4u {
            backward_words_pair(v0, v1, bits >> (4u * k));
        } else {
            backward_scalars(v0, k, bits);
            backward_scalars(v1, k + 1u, bits);
        }
    }
}
