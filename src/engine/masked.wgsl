// The backward from a mask, which reads the mask instead of x, over the
// blocks of the mask layout (blocked.wgsl; f16 as words beside
// blocked_words.wgsl's forward, whose yw2 it writes). The family supplies
// backward_given1/4/words(passes, g): its backward, the predicate known.
@group(0) @binding(19) var<storage, read_write> gw2: array<vec2<u32>>;

fn passes_of4(bits: u32) -> vec4<bool> {
    return (vec4<u32>(bits) & vec4<u32>(1u, 2u, 4u, 8u)) != vec4<u32>(0u);
}

// bits_of_halves undone.
fn passing_halves_of(bits: u32) -> vec4<u32> {
    let b = vec4<u32>(bits) >> vec4<u32>(0u, 2u, 4u, 6u);
    let lo = select(vec4<u32>(0u), vec4<u32>(0x0000ffffu), (b & vec4<u32>(1u)) != vec4<u32>(0u));
    let hi = select(vec4<u32>(0u), vec4<u32>(0xffff0000u), (b & vec4<u32>(2u)) != vec4<u32>(0u));
    return lo | hi;
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

// One whole vec4 v of the backward, from its four bits.
fn backward_vec4_item(v: u32, bits: u32) {
    let o = vec4_offsets();
    y4[o.y + v] = output4(o.y + v, backward_given4(passes_of4(bits), g4[o.g + v]));
}

// Two whole vec4s of halves of the backward as words, from their 8 bits.
fn backward_words_pair(v0: u32, v1: u32, bits: u32) {
    let o = vec4_offsets();
    var r = backward_given_words(passing_halves_of(bits), vec4<u32>(gw2[o.g + v0], gw2[o.g + v1]));
    if ACCUMULATE {
        r = add_halves(vec4<u32>(yw2[o.y + v0], yw2[o.y + v1]), r);
    }
    yw2[o.y + v0] = r.xy;
    yw2[o.y + v1] = r.zw;
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
