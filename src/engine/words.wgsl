// The element-wise entry points on f16 data as u32 words, for the families
// that can run them: eight halves per vec4<u32> load instead of four per
// vec4<f16>. A SIMD software rasteriser pays for each load far more than
// for the bit operations around it, and converting each value through the
// f16 type was what made its f16 path slower than f32. The family supplies
// `forward_words_at(x, e0, e1)` and `backward_words_at(x, g, e0, e1)` on
// vec4<u32>s of packed halves: x.xy the halves of elements e0..e0 + 3 and
// x.zw those of e1..e1 + 3, relative to the dispatch (here e0 = 8v and
// e1 = e0 + 4 for vec4<u32> v; for one of the last words, splat, e0 is
// twice its index and only lane x counts). The host uses these kernels
// where every offset is a multiple of eight halves and the length even and
// at least 8 (src/engine/word_parts.rs cuts a chunk so that all but a few
// halves are); `len` and the offsets are then in words.
@group(0) @binding(10) var<storage, read_write> xw4: array<vec4<u32>>;
@group(0) @binding(11) var<storage, read_write> gw4: array<vec4<u32>>;
@group(0) @binding(12) var<storage, read_write> yw4: array<vec4<u32>>;
@group(0) @binding(13) var<storage, read_write> xw1: array<u32>;
@group(0) @binding(14) var<storage, read_write> gw1: array<u32>;
@group(0) @binding(15) var<storage, read_write> yw1: array<u32>;

// ITEMS vec4<u32>s per invocation; the first len % 4 invocations of the
// grid also finish the words after the last whole vec4.
@compute @workgroup_size(WG)
fn forward_packed(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let geo = params.geometry;
    let n4 = geo.len / 4u;
    let group = flat_workgroup(wg);
    let base = first_item(group, lid);
    let o = vec4_offsets();
    for (var line = 0u; line < item_lines(); line++) {
        for (var j = 0u; j < line_items(); j++) {
            let v = item_at(base, line, j);
            if v < n4 {
                yw4[o.y + v] = forward_words_at(xw4[o.x + v], 8u * v, 8u * v + 4u);
            }
        }
    }
    let t = group * WG + lid;
    if t < geo.len % 4u {
        let e = n4 * 4u + t;
        yw1[geo.y_off + e] = forward_words_at(vec4<u32>(xw1[geo.x_off + e]), 2u * e, 2u * e + 4u).x;
    }
}

@compute @workgroup_size(WG)
fn backward_packed(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let geo = params.geometry;
    let n4 = geo.len / 4u;
    let group = flat_workgroup(wg);
    let base = first_item(group, lid);
    let o = vec4_offsets();
    for (var line = 0u; line < item_lines(); line++) {
        for (var j = 0u; j < line_items(); j++) {
            let v = item_at(base, line, j);
            if v < n4 {
                let r = backward_words_at(xw4[o.x + v], gw4[o.g + v], 8u * v, 8u * v + 4u);
                yw4[o.y + v] = output_words4(o.y + v, r);
            }
        }
    }
    let t = group * WG + lid;
    if t < geo.len % 4u {
        let e = n4 * 4u + t;
        let x = vec4<u32>(xw1[geo.x_off + e]);
        let g = vec4<u32>(gw1[geo.g_off + e]);
        yw1[geo.y_off + e] = output_words1(geo.y_off + e, backward_words_at(x, g, 2u * e, 2u * e + 4u).x);
    }
}

// What goes into yw4[i] for the results r: r, or with ACCUMULATE each
// half of yw4[i] plus that of r, rounded once.
fn output_words4(i: u32, r: vec4<u32>) -> vec4<u32> {
    if ACCUMULATE {
        return add_halves(yw4[i], r);
    }
    return r;
}

fn output_words1(i: u32, r: u32) -> u32 {
    if ACCUMULATE {
        return add_halves(vec4<u32>(yw1[i]), vec4<u32>(r)).x;
    }
    return r;
}

fn add_halves(a: vec4<u32>, b: vec4<u32>) -> vec4<u32> {
    let low = vec4<u32>(0xffffu);
    let lo = f32_from_halves(a & low) + f32_from_halves(b & low);
    let hi = f32_from_halves(a >> vec4<u32>(16u)) + f32_from_halves(b >> vec4<u32>(16u));
    return halves_from_f32(lo) | (halves_from_f32(hi) << vec4<u32>(16u));
}
