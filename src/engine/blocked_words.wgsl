// The forward over the blocks of the mask layout (blocked.wgsl) on f16 as
// u32 words, a vec4 of halves as two u32s, offsets in halves (multiples of
// four), the tail's halves one by one. The family supplies, besides
// blocked.wgsl's:
//   forward_words_at(x, e0, e1): the forward of two vec4s of halves as
//     words, those at elements e0 and e1 (relative to the dispatch, called
//     for an invocation's items in order, as its weights4 needs);
//   passes_words(x): 0xffff over each half of a word that passes.
@group(0) @binding(18) var<storage, read_write> xw2: array<vec2<u32>>;
@group(0) @binding(20) var<storage, read_write> yw2: array<vec2<u32>>;

// Masks of passing halves (0xffff each) of a vec4<u32> as bits 0..7, the
// low half of each word first: element order.
fn bits_of_halves(p: vec4<u32>) -> u32 {
    let b = (p & vec4<u32>(1u)) | ((p >> vec4<u32>(15u)) & vec4<u32>(2u));
    return b.x | (b.y << 2u) | (b.z << 4u) | (b.w << 6u);
}

// Two whole vec4s of halves, v0 and v1, of the forward as words: y, and
// their 8 bits of each word.
fn forward_words_pair(v0: u32, v1: u32) -> Words {
    let o = vec4_offsets();
    let x = vec4<u32>(xw2[o.x + v0], xw2[o.x + v1]);
    let y = forward_words_at(x, v0 * 4u, v1 * 4u);
    yw2[o.y + v0] = y.xy;
    yw2[o.y + v1] = y.zw;
    return Words(bits_of_halves(passes_words(x)), bits_of_halves(positive_halves(x)));
}

fn shifted(w: Words, by: u32) -> Words {
    return Words(w.mask << by, w.activity << by);
}

// An invocation's eight vec4s of halves, two (k and k + 1) at a time.
fn forward_block_packed(o: Owned) -> Words {
    begin_invocation(o.first * 4u);
    var w = Words(0u, 0u);
    if present(o.first + 7u * WG) == 4u {
        // All eight vec4s there: a loop without tests (one loop with the
        // test `whole || present(v1) == 4u` measured 1.2-1.5x slower).
        for (var k = 0u; k < 8u; k += 2u) {
            w = or_words(w, shifted(forward_words_pair(o.first + k * WG, o.first + (k + 1u) * WG), 4u * k));
        }
        return w;
    }
    for (var k = 0u; k < 8u; k += 2u) {
        let v0 = o.first + k * WG;
        let v1 = v0 + WG;
        if present(v1) == 4u {
            w = or_words(w, shifted(forward_words_pair(v0, v1), 4u * k));
        } else {
            w = or_words(w, or_words(forward_scalars(v0, k), forward_scalars(v1, k + 1u)));
        }
    }
    return w;
}

@compute @workgroup_size(WG)
fn forward_masked_packed(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = owned(wg, lid);
    if present(o.first) != 0u {
        mask[params.geometry.m_off + o.word] = forward_block_packed(o).mask;
    }
}

@compute @workgroup_size(WG)
fn forward_watched_packed(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = owned(wg, lid);
    if present(o.first) != 0u {
        activity[o.word] = forward_block_packed(o).activity;
    }
}

@compute @workgroup_size(WG)
fn forward_masked_watched_packed(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = owned(wg, lid);
    if present(o.first) != 0u {
        let w = forward_block_packed(o);
        mask[params.geometry.m_off + o.word] = w.mask;
        activity[o.word] = w.activity;
    }
}
