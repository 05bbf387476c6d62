// PReLU's weight gradient, pass 1: grad_x and f32 partial sums of
// x > 0 ? 0 : x * g, each over a fixed set of elements, into `partials`.
// Reduced on the GPU in two passes with a fixed order, so it is
// bit-identical from run to run (no float atomics):
//   1. `weight_grad_runs` (here) or `weight_grad_columns` (columns.wgsl)
//      write grad_x and the partials, each invocation its own;
//   2. `weight_grad_reduce_*` (reduce.wgsl) sum each channel's partials in
//      a fixed order and round once to `elem`.
// Partials too many for one binding are written and read in parts: pass 2
// then runs once per slab of them, each slab's sums carried in `acc` (f32)
// to the next, in a fixed order too. Which kernels run, and so the order,
// depends on the shape (src/prelu/plan.rs), never on offsets.
//
// Both kernels take vec4s at places fixed by the shape — the vec4 of a
// tensor index i is i / 4 — and keep each lane's sum apart, so that the
// lanes of a vec4 may lie in different channels. Lanes past the tensor's
// end are zeros, never loaded or stored.

// Invocations per workgroup: a power of two, at least 16, for the kernels
// that sum a workgroup (sums.wgsl); for the columns walk, an equal share
// of its row (`Plan::workgroup`), so that few invocations idle.
override WG: u32 = 256u;
// vec4s each invocation of `weight_grad_runs` takes side by side: 4 to 7,
// whichever leaves a run's invocations fewest places idle (walks.rs).
override ITEMS: u32 = 4u;
// A workgroup barrier after every BARRIER_ROWS rows of the columns walk, on
// a software rasteriser: it runs a workgroup's SIMD groups one after
// another up to each barrier, so that the workgroup's loads and stores go
// through memory a row or a few (at least 192 vec4s of each tensor a row)
// at a time instead of one SIMD group's eight 16-byte columns down all ROWS
// rows, which a CPU's prefetchers lose track of (BENCHMARKS.md). The vec4
// fold and the four-channel pass 2 (reduce.wgsl) take it too, after each
// row of partials, where those lie far apart (`Plan::rows_apart`). It
// changes the order of nothing but the scheduling: the sums are the same
// with and without.
override ROW_BARRIER: bool = false;
// Runs that are not a whole number of vec4s (inner % 4 != 0): a run's last
// vec4 may reach into the next. TAIL: the tensor ends inside a vec4 and
// this dispatch is of the one item (invocation or block) that holds it;
// the rest of the walk is dispatched without the tail's code. Pipeline
// constants, so that the common shapes compile without the tests: on a
// software rasteriser each costs every invocation 5–15%, the tail's
// scalar loads and stores 10–30%.
override RAGGED: bool = false;
override TAIL: bool = false;
// The same two walks serve PReLU's forward (FORWARD: y from x alone) and
// its input gradient without the weight's (SUMS false: no partials), so
// that every PReLU kernel reads the tensors in the same places.
override SUMS: bool = true;
override FORWARD: bool = false;
// One block for every weight-gradient kernel; each reads the fields it
// needs. Offsets are in elements from the start of their binding.
struct Params {
    len: u32,        // invocations (runs), blocks (columns) or channels (pass 2)
    groups_x: u32,   // workgroups along x and y: past the per-dimension
    groups_y: u32,   //   limit the grid spreads over y and z
    x_off: u32,
    g_off: u32,
    y_off: u32,      // grad_x; for pass 2, grad_w
    w_off: u32,
    channels: u32,   // weights (1 for one shared slope)
    inner: u32,      // elements per channel run
    phase: u32,      // 0: weights.wgsl's (unused here)
    total: u32,      // the tensor's elements
    first: u32,      // tensor index of the binding's first element (a multiple of 4)
    base: u32,       // first invocation (runs) or block of rows (columns)
    per_run: u32,    // runs: invocations per run
    slots: u32,      // runs: partials per run (RAGGED: its head first)
    period: u32,     // columns: channels * inner
    row: u32,        // columns: vec4s per row, a whole number of periods
    row_groups: u32, // columns: workgroups per block of rows
    a_count: u32,    // reduce: partials per channel = a_count * b_count,
    a_stride: u32,   //   at a * a_stride + channel * b_count + b
    b_count: u32,
    p_shift: u32,    // global partial index minus this (mod 2^32) is its index in the binding
    acc_mode: u32,   // reduce: 1 = start from acc[c], 2 = leave the sum in acc, not grad_w
    c_first: u32,    // reduce: the channel of this dispatch's first (channels in slabs)
    // The divisors above packed for `div_by` (src/divisor.rs).
    inner_div: vec2<u32>,
    channels_div: vec2<u32>,
    per_run_div: vec2<u32>,
    period_div: vec2<u32>,
    row_groups_div: vec2<u32>,
    b_count_div: vec2<u32>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(8) var<storage, read_write> partials: array<f32>;
@group(0) @binding(9) var<storage, read_write> grad_w: array<elem>;
// The partials seen as vec4s, where they lie in fours.
@group(0) @binding(16) var<storage, read_write> partials4: array<vec4<f32>>;
// Per-channel sums carried from one slab of partials to the next.
@group(0) @binding(17) var<storage, read_write> acc: array<f32>;

fn flat_workgroup(wg: vec3<u32>) -> u32 {
    return workgroup_index(wg, params.groups_x, params.groups_y);
}

// Whether every operand's offset in its binding is a multiple of four
// elements, so that vec4s load and store as vec4s. Where not (a tensor at
// an odd offset), the same lanes go through the scalar views and sum in the
// same order: the weight gradient's bits depend on the shape alone, never
// on where the tensor sits.
override ALIGNED: bool = true;

// Where a kernel finds tensor element i in each binding: i + these
// (mod 2^32). Read from `params` once: a rasteriser cannot tell the
// uniform block from the tensors, so each use after a store reloads it.
// ALIGNED: the same in vec4s (x4, g4, y4), every offset a multiple of 4,
// so that a vec4's index is one addition.
struct Bases {
    x: u32,
    g: u32,
    y: u32,
    x4: u32,
    g4: u32,
    y4: u32,
}

// SAME_OFFSETS: x, g and y at one offset in their bindings (each bound
// from the same element of its buffer, or in place), so that one index
// finds a vec4 in all three. lavapipe works out each lane's address and
// bounds test once per index, not once per access: an index for the load
// and another for the store made channels-last 64's forward 8% slower.
override SAME_OFFSETS: bool = false;

fn bases() -> Bases {
    let first = params.first;
    let first4 = first / 4u;
    if SAME_OFFSETS {
        let x = params.x_off - first;
        let x4 = params.x_off / 4u - first4;
        return Bases(x, x, x, x4, x4, x4);
    }
    return Bases(
        params.x_off - first, params.g_off - first, params.y_off - first,
        params.x_off / 4u - first4, params.g_off / 4u - first4, params.y_off / 4u - first4,
    );
}

// The tensor's last vec4 where it is not whole (lanes = total % 4, 1 to
// 3): its lanes in the tensor, the rest zeros, and `store_tail` writing
// those lanes only. Kept out of the loops: a SIMD rasteriser runs a
// branch's both sides, so the loops stay whole vec4s. Each lane has a test
// of its own and the tail is a value, not private memory indexed at run
// time: a rasteriser keeps such memory for every invocation.
struct Tail {
    x: vec4<elem>,
    g: vec4<elem>,
}

fn load_tail(b: Bases, v: u32, lanes: u32) -> Tail {
    var t: Tail;
    let i = b.x + 4u * v;
    let j = b.g + 4u * v;
    t.x.x = x1[i];
    if lanes > 1u {
        t.x.y = x1[i + 1u];
    }
    if lanes > 2u {
        t.x.z = x1[i + 2u];
    }
    if !FORWARD {
        t.g.x = g1[j];
        if lanes > 1u {
            t.g.y = g1[j + 1u];
        }
        if lanes > 2u {
            t.g.z = g1[j + 2u];
        }
    }
    return t;
}

fn store_tail(b: Bases, v: u32, lanes: u32, r: vec4<elem>) {
    let i = b.y + 4u * v;
    y1[i] = output1(i, r.x);
    if lanes > 1u {
        y1[i + 1u] = output1(i + 1u, r.y);
    }
    if lanes > 2u {
        y1[i + 2u] = output1(i + 2u, r.z);
    }
}

// y (FORWARD) or grad_x of tensor vec4 v with weights w: x loaded, g only
// for the backward.
fn placed_result(b: Bases, v: u32, x: Quad, w: vec4<f32>) -> Quad {
    if FORWARD {
        return forward_quad(x, w);
    }
    return backward_quad(x, load_g(b, v), w);
}

// placed_result for the tail's loaded lanes.
fn placed_tail(t: Tail, w: vec4<f32>) -> vec4<elem> {
    if FORWARD {
        return prelu_forward4(t.x, w);
    }
    return prelu_backward4(t.x, t.g, w);
}

fn lane_sum(s: vec4<f32>) -> f32 {
    return add1(add1(s.x, s.y), add1(s.z, s.w));
}

// Pass 1 inside channel runs (runs of at least four elements): invocation
// j of run r takes up to ITEMS vec4s side by side, all starting in the run,
// and leaves its partial in slot j of the run's (RAGGED: 1 + j). RAGGED:
// the run's last vec4 may reach into run r + 1; this invocation stores it
// whole (those lanes with the next run's weight) and leaves their terms in
// slot 0 of run r + 1, its head, so that every vec4 is read and written by
// one invocation (grad_x may be grad_y). A run that starts on a vec4 has
// a zero head.
@compute @workgroup_size(WG)
fn weight_grad_runs(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let local = flat_workgroup(wg) * WG + lid;
    if local >= params.len {
        return;
    }
    let t = params.base + local;
    let r = div_by(t, params.per_run_div);
    let j = t - r * params.per_run;
    let start = r * params.inner;
    let end = start + params.inner;
    let last = (end - 1u) / 4u;
    let v0 = min((start + 3u) / 4u + ITEMS * j, last + 1u);
    let v1 = min(v0 + ITEMS, last + 1u);
    let c = channel_of_run(r);
    let w = vec4<f32>(channel_weight(c));
    var w_next = w;
    if RAGGED {
        // Run r + 1's channel from c's, without a second division.
        w_next = vec4<f32>(channel_weight(next_channel(c)));
    }
    var sum = vec4<f32>(0.0);
    var head = vec4<f32>(0.0);
    let b = bases();
    let total = params.total;
    let whole = min(v1, total / 4u);
    // RAGGED: the run's last vec4 may reach into run r + 1, its lanes from
    // `end` on with that run's weight. The forward and the input gradient
    // alone select the weight on every vec4. With the weight's sums, that
    // vec4 is taken after the loop instead: the loop then keeps the plain
    // path, without a lane compare and three selects on every vec4.
    var inside = whole;
    if RAGGED && SUMS {
        inside = min(whole, end / 4u);
    }
    // A fixed trip count, each vec4 tested: a rasteriser unrolls it.
    for (var k = 0u; k < ITEMS; k++) {
        let v = v0 + k;
        if v < inside {
            let x = load_x(b, v);
            if !SUMS {
                var wv = w;
                if RAGGED {
                    let own = vec4<u32>(4u * v) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(end);
                    wv = select(w_next, w, own);
                }
                store_grad_x(b, v, placed_result(b, v, x, wv));
            } else {
                let g = load_g(b, v);
                store_grad_x(b, v, backward_quad(x, g, w));
                sum = add4(sum, weight_term_quad(x, g));
            }
        }
    }
    // With the sums, the run's last vec4 where it reaches into run r + 1
    // (then it is `inside`, this invocation's last): its terms from `end`
    // on go to that run's head.
    if RAGGED && SUMS && v0 <= inside && inside < whole {
        let v = inside;
        let x = load_x(b, v);
        let g = load_g(b, v);
        let own = vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(end % 4u);
        store_grad_x(b, v, backward_quad(x, g, select(w_next, w, own)));
        let term = weight_term_quad(x, g);
        sum = add4(sum, select(vec4<f32>(0.0), term, own));
        head = select(term, vec4<f32>(0.0), own);
    }
    if TAIL && v0 <= whole && whole < v1 {
        // The tensor's last, partial vec4: all in this run.
        let lanes = total % 4u;
        let t = load_tail(b, whole, lanes);
        if !SUMS {
            store_tail(b, whole, lanes, placed_tail(t, w));
        } else {
            store_tail(b, whole, lanes, prelu_backward4(t.x, t.g, w));
            sum = add4(sum, prelu_weight_term4(t.x, t.g));
        }
    }
    if !SUMS {
        return;
    }
    if !RAGGED {
        partials[r * params.slots + j - params.p_shift] = lane_sum(sum);
        return;
    }
    let slot = r * params.slots - params.p_shift;
    partials[slot + 1u + j] = lane_sum(sum);
    if v0 <= last && last < v1 && end < total {
        partials[slot + params.slots] = lane_sum(head);
    }
    if j == 0u && start % 4u == 0u {
        partials[slot] = 0.0;
    }
}
