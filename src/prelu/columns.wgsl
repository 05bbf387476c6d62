// Pass 1 of PReLU's weight gradient over the tensor as rows, its forward
// and its input gradient alone on the same walk (weight_grad.wgsl has the
// parameters, the runs walk and what both walks share). The tensor is
// rows of `row` vec4s, a whole number of periods each, so that a lane's
// channel is the same in every row: an invocation takes COLUMNS vec4
// columns side by side, q to q + COLUMNS - 1, down ROWS rows (a row
// apart), and leaves each column's four lane sums at block * row + q + c.
// Where they lie, and so the order of pass 2's additions, is the same
// whatever COLUMNS is.

// Rows of vec4s each invocation takes: 16 at most, the rows `column_walk`
// writes out.
override ROWS: u32 = 16u;
// Columns side by side each invocation takes, 1 or 2
// (`Plan::columns_each`): two on a software rasteriser where a workgroup
// holds the row. It runs a workgroup's SIMD groups one after another up
// to each of ROW_BARRIER's barriers, and each SIMD group's turn costs a
// switch of its state. By turns on lavapipe, channels-last's backward
// with the weight gradient read 1.41–1.47 × the floor with one vec4 a
// turn, where Leaky's backward read 1.07–1.09, and 1.11–1.33 with two
// (BENCHMARKS.md).
override COLUMNS: u32 = 1u;
// Rows of the columns walk between two of ROW_BARRIER's barriers, the
// plan's (`Plan::barrier_rows`): four where a row is wider than a
// workgroup, so that each SIMD group has four rows' loads in flight, not
// one.
override BARRIER_ROWS: u32 = 1u;
// Where `weight_grad_columns_w4` finds its lanes' four weights, as one
// vec4 load: true, column q's at `w4[w_off / 4 + q]`, a row of them made by
// `weight_grad_lane_weights`; false, the weights themselves (channels-last
// with a multiple of four channels), four consecutive channels on a
// multiple of four. A software rasteriser pays for each load and each
// division: finding four lanes' channels in the walk cost lavapipe's
// forward 6–9%.
// (`w4` is declared with the weight in weights.wgsl.)
override ROW_WEIGHTS: bool = false;

// A vec4 for each of an invocation's columns (`b` unused where COLUMNS is
// 1): its lanes' weights, or its lanes' sums. Two values, not an array: a
// rasteriser may keep an array in memory, and one made lavapipe's
// backward with the weight gradient 1.4× slower.
struct ColumnPair {
    a: vec4<f32>,
    b: vec4<f32>,
}

// Where an invocation of the columns walk is: its first column q of block
// `block`, or past the dispatch (`block` then at least params.len).
fn column_place(wg: vec3<u32>, lid: u32) -> vec2<u32> {
    let group = flat_workgroup(wg);
    let local_block = div_by(group, params.row_groups_div);
    let q = ((group - local_block * params.row_groups) * WG + lid) * COLUMNS;
    return vec2<u32>(select(params.len, local_block, q < params.row), q);
}

// The first lane's column in its period.
fn first_column(q: u32) -> u32 {
    return 4u * q - div_by(4u * q, params.period_div) * params.period;
}

// The weights of column q's four lanes (each lane's channel divided for
// and loaded): the same in every row.
fn lane_weights(q: u32) -> vec4<f32> {
    var w = vec4<f32>();
    for (var l = 0u; l < 4u; l++) {
        let e = 4u * q + l;
        let column = e - div_by(e, params.period_div) * params.period;
        w[l] = f32(w1[params.w_off + div_by(column, params.inner_div)]);
    }
    return w;
}

// The columns walk finding its lanes' weights itself, for rows too long
// for a row of lane weights in scratch (walks.rs), which are wider than a
// workgroup: one column an invocation. Invocations past the dispatch walk
// too, touching nothing, so that every invocation reaches ROW_BARRIER's
// barriers.
@compute @workgroup_size(WG)
fn weight_grad_columns(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let place = column_place(wg, lid);
    let in_dispatch = place.x < params.len;
    var w = ColumnPair();
    if in_dispatch {
        w.a = lane_weights(place.y);
    }
    column_walk(in_dispatch, params.base + place.x, place.y, w);
}

// Before `weight_grad_columns_w4` with ROW_WEIGHTS: the lane weights of
// each of the row's `len` columns into w4, from `y_off` (elements, a
// multiple of 4), exactly as the weights are (elem to elem).
@compute @workgroup_size(WG)
fn weight_grad_lane_weights(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let q = flat_workgroup(wg) * WG + lid;
    if q >= params.len {
        return;
    }
    w4[params.y_off / 4u + q] = vec4<elem>(lane_weights(q));
}

// Column q's lane weights as one vec4 load from w4 (ROW_WEIGHTS says
// where).
fn w4_lane_weights(q: u32) -> vec4<f32> {
    if ROW_WEIGHTS {
        return vec4<f32>(w4[params.w_off / 4u + q]);
    }
    return vec4<f32>(w4[(params.w_off + first_column(q)) / 4u]);
}

// `weight_grad_columns` with its lanes' weights one vec4 load from w4. An
// entry of its own, since a kernel may bind eight storage buffers and this
// one binds w4 in w1's place.
@compute @workgroup_size(WG)
fn weight_grad_columns_w4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let place = column_place(wg, lid);
    let q = place.y;
    let in_dispatch = place.x < params.len;
    var w = ColumnPair();
    if in_dispatch {
        w.a = w4_lane_weights(q);
        if COLUMNS == 2u && q + 1u < params.row {
            w.b = w4_lane_weights(q + 1u);
        }
    }
    column_walk(in_dispatch, params.base + place.x, q, w);
}

// What the rows of an invocation's walk share, read once: the tensors'
// bases, the row's length, the first column's vec4 in the block's first
// row, and each column's end: the tensor's whole vec4s, or 0 for a column
// past the dispatch or the row, which walks to the barriers and touches
// nothing.
struct ColumnWalk {
    b: Bases,
    row: u32,
    first: u32,
    end_a: u32,
    end_b: u32,
}

// The vec4 v of a column with lane weights w, its lanes' sums so far
// `sum`: y or grad_x stored, the sums with its terms returned.
fn column_vec4(b: Bases, v: u32, w: vec4<f32>, sum: vec4<f32>) -> vec4<f32> {
    let x = load_x(b, v);
    if !SUMS {
        store_grad_x(b, v, placed_result(b, v, x, w));
        return sum;
    }
    let g = load_g(b, v);
    store_grad_x(b, v, backward_quad(x, g, w));
    return add4(sum, weight_term_quad(x, g));
}

// Row k of the walk (none past ROWS), then ROW_BARRIER's barrier where
// one is due.
fn column_row(at: ColumnWalk, k: u32, w: ColumnPair, sum: ColumnPair) -> ColumnPair {
    var s = sum;
    if k < ROWS {
        let v = at.first + k * at.row;
        if v < at.end_a {
            s.a = column_vec4(at.b, v, w.a, s.a);
        }
        if COLUMNS == 2u && v + 1u < at.end_b {
            s.b = column_vec4(at.b, v + 1u, w.b, s.b);
        }
    }
    if ROW_BARRIER && k < ROWS && k % BARRIER_ROWS == BARRIER_ROWS - 1u {
        workgroupBarrier();
    }
    return s;
}

fn four_column_rows(at: ColumnWalk, k: u32, w: ColumnPair, sum: ColumnPair) -> ColumnPair {
    let s = column_row(at, k, w, sum);
    let t = column_row(at, k + 1u, w, s);
    let u = column_row(at, k + 2u, w, t);
    return column_row(at, k + 3u, w, u);
}

// The tensor's last, partial vec4 where it lies in the column from vec4
// `first` that this invocation walks (`walks`), whose whole vec4s end at
// `end` (a tensor of fewer than four elements has none: `end` is 0 and the
// tail is vec4 0): found once, after the rows (a test in every row made
// channels-last 37's input gradient 16% slower on lavapipe).
fn column_tail(at: ColumnWalk, first: u32, end: u32, walks: bool, w: vec4<f32>, sum: vec4<f32>) -> vec4<f32> {
    let past = end - first;
    if !TAIL || !walks || end < first || past >= ROWS * at.row || past % at.row != 0u {
        return sum;
    }
    let lanes = params.total % 4u;
    let t = load_tail(at.b, end, lanes);
    if !SUMS {
        store_tail(at.b, end, lanes, placed_tail(t, w));
        return sum;
    }
    store_tail(at.b, end, lanes, prelu_backward4(t.x, t.g, w));
    return add4(sum, prelu_weight_term4(t.x, t.g));
}

// The columns walk of columns q to q + COLUMNS - 1 of `block` with their
// lanes' weights w, where `in_dispatch` (else only the barriers). The rows
// are written out, not a loop: a compiler unrolls a loop only up to a
// size, and the two columns' rows with the sums as a loop read 1.83 × the
// floor on lavapipe, written out 1.32.
fn column_walk(in_dispatch: bool, block: u32, q: u32, w: ColumnPair) {
    let row = params.row;
    let whole = select(0u, params.total / 4u, in_dispatch);
    let second = COLUMNS == 2u && q + 1u < row;
    let at = ColumnWalk(bases(), row, block * ROWS * row + q, whole, select(0u, whole, second));
    var sum = ColumnPair();
    sum = four_column_rows(at, 0u, w, sum);
    sum = four_column_rows(at, 4u, w, sum);
    sum = four_column_rows(at, 8u, w, sum);
    sum = four_column_rows(at, 12u, w, sum);
    sum.a = column_tail(at, at.first, at.end_a, in_dispatch, w.a, sum.a);
    if COLUMNS == 2u {
        sum.b = column_tail(at, at.first + 1u, at.end_b, in_dispatch && second, w.b, sum.b);
    }
    if !SUMS || !in_dispatch {
        return;
    }
    let p = block * row + q - params.p_shift / 4u;
    partials4[p] = sum.a;
    if second {
        partials4[p + 1u] = sum.b;
    }
}
