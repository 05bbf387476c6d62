// Counting one chunk's activity bits (written by the forward in the mask
// layout, src/engine/blocked.wgsl) into a monitor's totals: the active
// elements of every channel, and the elements seen. The channel of the
// chunk's element e is ((phase + e) / inner) % channels. Totals are u64s
// as two words, added to with integer atomics: exact, and the same
// whatever order the invocations run in. Five kernels, one per layout
// class (src/stats/count.rs chooses): each adds as few times as its class
// allows.

struct Params {
    len: u32,           // elements of the chunk
    words: u32,         // its words of bits
    blocks: u32,        // its blocks of 8192 elements
    channels: u32,
    inner: u32,         // elements of a channel run
    phase: u32,         // the chunk's first element, mod channels * inner
    blocks_per: u32,    // blocks per invocation (count_periodic, count_words, count_channels)
    groups_x: u32,
    groups_y: u32,
    classes: u32,       // word or window classes (count_words, count_windows)
    inner_div: vec2<u32>,    // inner and channels packed for `div_by`
    channels_div: vec2<u32>,
    // count_words: where a class's words lie in a block (src/stats/count.rs)
    inverse: u32,       // the inverse of 4 / gcd(period, 4), mod classes
    base: u32,          // class 0's first word in block 0
    drift: u32,         // how far that word moves back from block to block
    spread: u32,        // gcd(period, 4): the classes' first elements apart
    pad0: u32,
    pad1: u32,
}

override WG: u32 = 256u;
// The engine sets it for every f32 kernel; counting makes no products.
override EXACT_PRODUCTS: bool = false;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> bits: array<u32>;
@group(0) @binding(3) var<storage, read_write> bits4: array<vec4<u32>>;
// [elements seen (lo, hi), channel 0 (lo, hi), channel 1 (lo, hi), ...]
@group(0) @binding(2) var<storage, read_write> totals: array<atomic<u32>>;

// Adds n to the u64 total `slot`: the carry goes to the high word once per
// wrap of the low one, whatever the order of the additions.
fn add_total(slot: u32, n: u32) {
    let old = atomicAdd(&totals[2u * slot], n);
    if old > 0xffffffffu - n {
        atomicAdd(&totals[2u * slot + 1u], 1u);
    }
}

fn add_active(channel: u32, n: u32) {
    if n != 0u {
        add_total(1u + channel, n);
    }
}

fn invocation(wg: vec3<u32>, lid: u32) -> u32 {
    return workgroup_index(wg, params.groups_x, params.groups_y) * WG + lid;
}

// The chunk's elements, added once.
fn add_seen(t: u32) {
    if t == 0u {
        add_total(0u, params.len);
    }
}

// The bits of block b's word l.
fn word(b: u32, l: u32) -> u32 {
    return bits[b * 256u + l];
}

// Words l..l + 3 of block b, the words past `words` as 0 (the binding is
// rounded up to whole vec4s; what lies past the chunk's words is stale).
fn words4(b: u32, l: u32, words: u32) -> vec4<u32> {
    let w = bits4[(b * 256u + l) / 4u];
    return select(vec4<u32>(0u), w, vec4<u32>(l) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(words));
}

// Window i of segment k of block b: its 32 elements' bits in element
// order, nibble k of words 8i..8i + 7.
fn window_bits(b: u32, k: u32, i: u32, words: u32) -> u32 {
    return nibbles(words4(b, 8u * i, words), words4(b, 8u * i + 4u, words), k);
}

// Nibble k of eight words, the first four `lo`, in their order.
fn nibbles(lo4: vec4<u32>, hi4: vec4<u32>, k: u32) -> u32 {
    let shift = vec4<u32>(4u * k);
    let place = vec4<u32>(0u, 4u, 8u, 12u);
    let lo = ((lo4 >> shift) & vec4<u32>(0xfu)) << place;
    let hi = ((hi4 >> shift) & vec4<u32>(0xfu)) << (place + vec4<u32>(16u));
    return lo.x | lo.y | lo.z | lo.w | hi.x | hi.y | hi.z | hi.w;
}

// Words of block b.
fn words_of_block(b: u32) -> u32 {
    return min(256u, params.words - b * 256u);
}

// The class an invocation counts and its blocks, `blocks_per` of them
// from (t / classes) * blocks_per; none (first == last) past the chunk's.
struct ClassBlocks {
    q: u32,
    first: u32,
    last: u32,
}

fn class_blocks(t: u32, classes: u32) -> ClassBlocks {
    let first = min((t / classes) * params.blocks_per, params.blocks);
    return ClassBlocks(t % classes, first, min(first + params.blocks_per, params.blocks));
}

// Eight bit planes: bit i of plane p is bit p of the count of bit i of
// the words added so far (0..255 each).
fn add_to_planes(planes: ptr<function, array<u32, 8>>, bits: u32) {
    var carry = bits;
    for (var p = 0u; p < 8u; p++) {
        let next = (*planes)[p] & carry;
        (*planes)[p] ^= carry;
        carry = next;
    }
}

fn count_of_bit(planes: ptr<function, array<u32, 8>>, i: u32) -> u32 {
    var n = 0u;
    for (var p = 0u; p < 8u; p++) {
        n |= (((*planes)[p] >> i) & 1u) << p;
    }
    return n;
}

// channels * inner divides 1024, so every block's 1024-element segments
// share one channel pattern, and the words whose index is the same modulo
// period / 4 share one: bit 4k + j of word l is channel
// ((4l + j) / inner) % channels for every k. An invocation takes one such
// class of words over blocks_per blocks, counting its four lanes at once.
@compute @workgroup_size(WG)
fn count_periodic(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = invocation(wg, lid);
    let classes = max(params.channels * params.inner / 4u, 1u);
    let c = class_blocks(t, classes);
    if c.first == c.last {
        return;
    }
    add_seen(t);
    let q = c.q;
    let lane_bits = vec4<u32>(0x11111111u) << vec4<u32>(0u, 1u, 2u, 3u);
    var lanes = vec4<u32>(0u);
    for (var b = c.first; b < c.last; b++) {
        let words = words_of_block(b);
        for (var l = q; l < words; l += classes) {
            lanes += countOneBits(vec4<u32>(word(b, l)) & lane_bits);
        }
    }
    for (var j = 0u; j < 4u; j++) {
        add_active(((4u * q + j) / params.inner) % params.channels, lanes[j]);
    }
}

// Runs of at least 32 elements (NCHW, a dense layer along axis 0): an
// invocation walks SEGMENTS consecutive 1024-element segments of one block
// side by side, each in order, 32 elements at a time (nibble k of eight
// words: one window), and adds a run's count where the run ends; a run of
// 32 or more ends at most once in a window. SEGMENTS: 8 on a software
// rasteriser, which then loads each of the block's words once where one
// segment an invocation loaded them eight times, once for each nibble (a
// load costs it far more than the bit arithmetic); 1 on a GPU, for the
// parallelism.
override SEGMENTS: u32 = 1u;

@compute @workgroup_size(WG)
fn count_runs(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = invocation(wg, lid);
    let first = t * SEGMENTS;
    let b = first / 8u;
    let k0 = first % 8u;
    if b * 8192u + k0 * 1024u >= params.len {
        return;
    }
    add_seen(t);
    let inner = params.inner;
    // Each segment's windows (none past the chunk), and where it is: the
    // offset in the current run, its channel, and its count so far.
    var windows: array<u32, 8>;
    var offset: array<u32, 8>;
    var c: array<u32, 8>;
    var n: array<u32, 8>;
    for (var s = 0u; s < SEGMENTS; s++) {
        let e0 = b * 8192u + (k0 + s) * 1024u;
        windows[s] = (min(1024u, params.len - min(params.len, e0)) + 31u) / 32u;
        let g = params.phase + e0;
        let run = div_by(g, params.inner_div);
        offset[s] = g - run * inner;
        c[s] = run - div_by(run, params.channels_div) * params.channels;
        n[s] = 0u;
    }
    let words = words_of_block(b);
    // The first segment has the most windows.
    for (var i = 0u; i < windows[0]; i++) {
        let lo = words4(b, 8u * i, words);
        let hi = words4(b, 8u * i + 4u, words);
        for (var s = 0u; s < SEGMENTS; s++) {
            if i < windows[s] {
                let window = nibbles(lo, hi, k0 + s);
                // Elements left in the current run: at least 1.
                let left = inner - offset[s];
                if left > 32u {
                    n[s] += countOneBits(window);
                    offset[s] += 32u;
                } else {
                    let whole = left == 32u;
                    add_active(c[s], n[s] + countOneBits(select(window & ((1u << left) - 1u), window, whole)));
                    c[s] = select(c[s] + 1u, 0u, c[s] + 1u == params.channels);
                    n[s] = select(countOneBits(window >> left), 0u, whole);
                    offset[s] = 32u - left;
                }
            }
        }
    }
    for (var s = 0u; s < SEGMENTS; s++) {
        add_active(c[s], n[s]);
    }
}

// Short runs whose pattern does not repeat within a segment (channels-last
// with 3, 37 or 1,000 channels, short odd runs), of a period P whose word
// classes number at most 256. Bit 4k + j of word l of block b is element
// 8192b + 1024k + 4l + j, so every word whose first element, phase + 8192b
// + 4l, is the same modulo P has one channel pattern for all of its 32
// bits: there are `classes` = P / gcd(P, 4) such word classes. An
// invocation takes one class over blocks_per blocks, loading each of its
// words once (about 256 / classes a block, found by modular steps the host
// prepares), and adds the words bit by bit into eight bit planes (a counter
// of 0..255 for each of the 32 bits), then adds each bit's count to its
// channel.
@compute @workgroup_size(WG)
fn count_words(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = invocation(wg, lid);
    let classes = params.classes;
    let c = class_blocks(t, classes);
    if c.first == c.last {
        return;
    }
    add_seen(t);
    let q = c.q;
    // The class's first word in its first block b: (inverse q + base -
    // drift b) mod classes. Every factor is below classes <= 256, so each
    // product fits 32 bits.
    let ahead = (params.inverse * q + params.base) % classes;
    let back = (params.drift * (c.first % classes)) % classes;
    var l0 = select(ahead - back, ahead + classes - back, ahead < back);
    var planes: array<u32, 8>;
    for (var b = c.first; b < c.last; b++) {
        let words = words_of_block(b);
        for (var l = l0; l < words; l += classes) {
            add_to_planes(&planes, word(b, l));
        }
        l0 = select(l0 - params.drift, l0 + classes - params.drift, l0 < params.drift);
    }
    // Bit 4k + j of the class's words is the element spread q + 1024k + j
    // of the tensor's period, modulo P (below 2^14).
    let g = params.spread * q;
    for (var i = 0u; i < 32u; i++) {
        let run = div_by(g + 1024u * (i / 4u) + i % 4u, params.inner_div);
        add_active(run - div_by(run, params.channels_div) * params.channels, count_of_bit(&planes, i));
    }
}

// Short runs of a longer period (up to 2^20; more than 256 word classes):
// the 32-element windows (nibble k of eight words, as count_runs reads them)
// whose first elements lie a whole number of periods apart share one
// channel pattern, and `classes` = period / gcd(period, 32) windows apart
// they do. An invocation takes up to 255 windows of one class and adds
// them bit by bit into eight bit planes (a counter of 0..255 for each of
// the 32 bits), then adds each bit's count to its channel.
@compute @workgroup_size(WG)
fn count_windows(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = invocation(wg, lid);
    let classes = params.classes;
    let q = t % classes;
    let windows = (params.len + 31u) / 32u;
    let first = q + classes * (t / classes) * 255u;
    if first >= windows {
        return;
    }
    add_seen(t);
    var planes: array<u32, 8>;
    for (var m = 0u; m < 255u; m++) {
        let w = first + classes * m;
        if w >= windows {
            break;
        }
        let b = w / 256u;
        let words = words_of_block(b);
        add_to_planes(&planes, window_bits(b, (w % 256u) / 32u, w % 32u, words));
    }
    // Bit j of every window of the class is the element phase + 32q + j of
    // the tensor's period (the host keeps these below 2^30).
    let g = params.phase + 32u * q;
    for (var j = 0u; j < 32u; j++) {
        let run = div_by(g + j, params.inner_div);
        add_active(run - div_by(run, params.channels_div) * params.channels, count_of_bit(&planes, j));
    }
}

// Short runs of a period too long for count_windows (channels-last with
// more than a million channels): an invocation takes one channel over
// blocks_per blocks and tests its elements one by one, run after run of
// the channel.
@compute @workgroup_size(WG)
fn count_channels(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = invocation(wg, lid);
    let blocks = class_blocks(t, params.channels);
    if blocks.first == blocks.last {
        return;
    }
    add_seen(t);
    let c = blocks.q;
    let inner = params.inner;
    // The elements of the invocation's blocks, in the tensor's period.
    let g_first = params.phase + blocks.first * 8192u;
    let g_end = params.phase + min(blocks.last * 8192u, params.len);
    // The first run of channel c that ends in them.
    let r0 = div_by(g_first, params.inner_div);
    let c0 = r0 - div_by(r0, params.channels_div) * params.channels;
    var r = r0 + select(c - c0, c + params.channels - c0, c < c0);
    var n = 0u;
    loop {
        let run_start = max(r * inner, g_first);
        if run_start >= g_end {
            break;
        }
        for (var g = run_start; g < min(r * inner + inner, g_end); g++) {
            let e = g - params.phase;
            let p = e % 8192u;
            n += (word(e / 8192u, (p / 4u) % 256u) >> (4u * (p / 1024u) + p % 4u)) & 1u;
        }
        r += params.channels;
    }
    add_active(c, n);
}
