// The forward over the blocks of the mask layout: y, and beside it the
// 1-bit mask its backward reads (masked.wgsl), the activity bits the
// dead-unit statistics count (src/stats/count.wgsl), or both. The family
// supplies, besides the element-wise functions, passes1(x) / passes4(x):
// the predicate its backward takes g on. An element is active where it is
// in its family's positive region, x > 0 for every family (ReLU's y > 0).
//
// The layout (src/mask.rs documents it for apps) follows the invocations:
// the elements come in blocks of 8192, one workgroup a block; invocation l
// of a block owns word l and the vec4s l, l + 256, ..., l + 7 * 256 of the
// block, vec4 k in bits 4k..4k + 3. So every invocation loads and stores
// neighbouring memory to its neighbours', reads or writes one whole word,
// and no two write one word: no atomics, no barriers, nothing that depends
// on scheduling. Dispatches start on a block. Each entry computes both
// words and stores the ones it binds: the compiler drops the other.
@group(0) @binding(8) var<storage, read_write> mask: array<u32>;
// The activity bits of this dispatch, from word 0 (a scratch of the
// library's own, bound per dispatch).
@group(0) @binding(9) var<storage, read_write> activity: array<u32>;

// The words of one invocation: the mask's and the activity's.
struct Words {
    mask: u32,
    activity: u32,
}

fn or_words(a: Words, b: Words) -> Words {
    return Words(a.mask | b.mask, a.activity | b.activity);
}

fn active1(x: elem) -> bool {
    return is_positive1(f32(x));
}

fn active4(x: vec4<elem>) -> vec4<bool> {
    return is_positive4(vec4<f32>(x));
}

// Four predicates as bits 0..3.
fn bits_of4(p: vec4<bool>) -> u32 {
    let b = select(vec4<u32>(0u), vec4<u32>(1u, 2u, 4u, 8u), p);
    return b.x | b.y | b.z | b.w;
}

fn or4(b: vec4<u32>) -> u32 {
    return b.x | b.y | b.z | b.w;
}

// The invocation's word and its first vec4, both relative to the
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
// (scalar offsets, or the tail): y, and their bits in place in the words.
fn forward_scalars(v: u32, k: u32) -> Words {
    let geo = params.geometry;
    var w = Words(0u, 0u);
    for (var c = 0u; c < present(v); c++) {
        let e = v * 4u + c;
        let x = x1[geo.x_off + e];
        y1[geo.y_off + e] = forward1(x, e);
        w.mask |= select(0u, 1u, passes1(x)) << (4u * k + c);
        w.activity |= select(0u, 1u, active1(x)) << (4u * k + c);
    }
    return w;
}

// The forward of an invocation's eight vec4s, and their words: the whole
// vec4s in a loop that tests only their index, and a last partial vec4 (a
// length not a multiple of four) by its owner after it, one by one.
// (Measured on lavapipe, four interleaved rounds at 16M f32: the forward
// with mask 1.14-1.17x the plain forward with an unguarded loop for whole
// invocations beside a loop with a scalar path per vec4, 1.06-1.09x so;
// with statistics 1.21-1.24x and 1.16-1.18x.)
fn forward_block_vec4(o: Owned) -> Words {
    begin_invocation(o.first * 4u);
    let geo = params.geometry;
    let n4 = geo.len / 4u;
    let o4 = vec4_offsets();
    var m = vec4<u32>(0u);
    var a = vec4<u32>(0u);
    for (var k = 0u; k < 8u; k++) {
        let v = o.first + k * WG;
        if v < n4 {
            let x = x4[o4.x + v];
            y4[o4.y + v] = forward4(x, v * 4u);
            let lanes = vec4<u32>(1u, 2u, 4u, 8u) << vec4<u32>(4u * k);
            m |= select(vec4<u32>(0u), lanes, passes4(x));
            a |= select(vec4<u32>(0u), lanes, active4(x));
        }
    }
    let w = Words(or4(m), or4(a));
    let k = partial_item(o);
    if k < 8u {
        return or_words(w, forward_scalars(n4, k));
    }
    return w;
}

// Which of the invocation's items is the dispatch's last, partial vec4 (a
// length not a multiple of four), or 8 if none is.
fn partial_item(o: Owned) -> u32 {
    let geo = params.geometry;
    let n4 = geo.len / 4u;
    let rest = n4 - min(n4, o.first);
    if geo.len % 4u != 0u && rest % WG == 0u && rest < 8u * WG && o.first <= n4 {
        return rest / WG;
    }
    return 8u;
}

// Offsets that are not a multiple of four: the same elements one by one.
fn forward_block_scalar(o: Owned) -> Words {
    var w = Words(0u, 0u);
    for (var k = 0u; k < 8u; k++) {
        w = or_words(w, forward_scalars(o.first + k * WG, k));
    }
    return w;
}

@compute @workgroup_size(WG)
fn forward_masked_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = owned(wg, lid);
    if present(o.first) != 0u {
        mask[params.geometry.m_off + o.word] = forward_block_vec4(o).mask;
    }
}

@compute @workgroup_size(WG)
fn forward_watched_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = owned(wg, lid);
    if present(o.first) != 0u {
        activity[o.word] = forward_block_vec4(o).activity;
    }
}

@compute @workgroup_size(WG)
fn forward_masked_watched_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = owned(wg, lid);
    if present(o.first) != 0u {
        let w = forward_block_vec4(o);
        mask[params.geometry.m_off + o.word] = w.mask;
        activity[o.word] = w.activity;
    }
}

@compute @workgroup_size(WG)
fn forward_masked_scalar(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = owned(wg, lid);
    if present(o.first) != 0u {
        mask[params.geometry.m_off + o.word] = forward_block_scalar(o).mask;
    }
}

@compute @workgroup_size(WG)
fn forward_watched_scalar(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = owned(wg, lid);
    if present(o.first) != 0u {
        activity[o.word] = forward_block_scalar(o).activity;
    }
}

@compute @workgroup_size(WG)
fn forward_masked_watched_scalar(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = owned(wg, lid);
    if present(o.first) != 0u {
        let w = forward_block_scalar(o);
        mask[params.geometry.m_off + o.word] = w.mask;
        activity[o.word] = w.activity;
    }
}
