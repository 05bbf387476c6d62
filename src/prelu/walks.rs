//! The two walks of the weight gradient's plan (`plan.rs`): where `Runs`
//! and `Columns` put each invocation's vec4s, and the chunks and partials
//! that follow. Pure, as the plan is.

use crate::engine::WORKGROUP_SIZE;
use crate::shape::gcd;

use super::plan::{Chunk, Fold, Layout, Pass1, Pass2, Plan};

/// vec4s an invocation of `weight_grad_runs` takes, side by side: from
/// `RUN_ITEMS` to `RUN_ITEMS_MAX`, whichever costs a run least
/// (`run_items`).
const RUN_ITEMS: u64 = 4;
const RUN_ITEMS_MAX: u64 = 8;
/// What an invocation's set-up (its run's division, the weight's load, the
/// range's clamps) costs, in vec4s' places: about one on lavapipe, where
/// eight vec4s an invocation in place of four read 0.14–0.18 of the
/// 2-stream floor faster in the forward at 16M f32 (`[80, 64, 56, 56]`
/// 1.32 → 1.18, `[111, 3, 224, 224]` 1.37 → 1.19, `[4, 4096, 32, 32]`
/// 1.35 → 1.20, by turns; BENCHMARKS.md).
const SET_UP_PLACES: u64 = 1;
/// Runs of this many invocations or more keep their partials in fours
/// (`run_slots`).
const PAD_SLOTS_FROM: u64 = 16;
/// Rows of vec4s an invocation of `weight_grad_columns` takes, a row apart:
/// each of its four lanes' partials sums 16 elements. At most 16, the rows
/// columns.wgsl writes out.
pub(crate) const COLUMN_ROWS: u64 = 16;
const _: () = assert!(COLUMN_ROWS <= 16);
/// The longest row (vec4s) whose lane weights are made in scratch before
/// the columns walk (1 MiB of f32); longer rows find them in the walk.
pub(crate) const LANE_WEIGHT_ROW_UP_TO: u64 = 1 << 16;
/// A columns row longer than a workgroup is the fewest steps (whole
/// periods in whole vec4s) whose workgroups average this many busy vec4s
/// or more (7/8 of 256): each workgroup reads a stretch of every row, and
/// on a software rasteriser the longer the stretch the faster
/// (channels-last 257, steps of 257 vec4s, at 16M on lavapipe, backward
/// with the weight gradient × the floor: one step over two workgroups of
/// 136, 1.39; four steps over five of 208, 1.20; eight over nine of 232,
/// 1.17; BENCHMARKS.md).
pub(crate) const BUSY_SHARE_FROM: u64 = 224;
/// Workgroups a columns row is never as wide as: rows two workgroups wide
/// read 0.05–0.25 of the floor slower on lavapipe than rows of one, or of
/// three and more (channels-last 131: two of 136 against one of 131; 257:
/// two of 136 against eight of 232; 2,048: two of 256 against four,
/// backward with the weight gradient 1.31 → 1.21 and forward 1.23 → 1.18
/// at 16M; BENCHMARKS.md).
const ROW_GROUPS_SHUNNED: u64 = 2;
/// Rows of the columns walk between two of a software rasteriser's
/// barriers where a row is wider than a workgroup (`Plan::barrier_rows`).
/// Each workgroup reads 4 KiB or less of each row, rows far apart, and
/// with a barrier after each row a SIMD group had one row's loads in
/// flight at a time. lavapipe at 16M, × the floor: channels-last 307 /
/// 1,021 / 2,048 forward 1.18 / 1.21 / 1.17 with one row, 1.01 / 1.06 /
/// 0.94 with four; with the weight gradient 1.30 / 1.29 / 1.19 → 1.15 /
/// 1.18 / 1.18; eight read up to 1.7 (BENCHMARKS.md).
const WIDE_ROWS_PER_BARRIER: u64 = 4;

/// Vec4 columns side by side an invocation of the columns walk takes on a
/// software rasteriser where a workgroup holds the row
/// (`Plan::columns_each`); columns.wgsl takes one or two.
const SIDE_COLUMNS: u64 = 2;

/// Whether runs of `inner` over `total` elements have vec4s that reach
/// into the next run (`RAGGED`): runs that end inside a vec4, more than one.
pub(crate) fn ragged(inner: u64, total: u64) -> bool {
    !inner.is_multiple_of(4) && total > inner
}

/// Where run r's vec4s are: those starting inside it, `first..=last` (its
/// last may reach into run r + 1).
pub(crate) fn run_vec4s(r: u64, inner: u64) -> (u64, u64) {
    let start = r * inner;
    (start.div_ceil(4), (start + inner - 1) / 4)
}

/// vec4s an invocation of `weight_grad_runs` takes in runs of `inner`
/// with `head` partials before their own (`ragged`): of `RUN_ITEMS` to
/// `RUN_ITEMS_MAX`, the count whose invocations cost a run least, each
/// its places and `SET_UP_PLACES`, counting those that pad its partials
/// to fours (`run_slots`), the largest on a tie. A software rasteriser
/// runs a SIMD group's loop for its longest invocation, so an idle place
/// costs nearly a full one: runs of 65 (up to 17 vec4s) in five
/// invocations of four have 20 places, in three of six 18 (lavapipe at
/// 16M: backward with the weight's gradient 1.39× the floor with four,
/// 1.20 with six; forward 1.22 and 1.08; runs of 81, 21 vec4s in 24
/// places or in three of seven: 1.24 and 1.03). Runs of 784 (196 vec4s)
/// took 49 invocations of four and three idle ones to pad them to 52,
/// where 28 of seven fill 196: forward 1.16 → 1.04 (BENCHMARKS.md).
pub(crate) fn run_items(inner: u64, head: u64) -> u64 {
    (RUN_ITEMS..=RUN_ITEMS_MAX)
        .rev()
        .min_by_key(|&items| run_cost(inner, head, items))
        .unwrap_or(RUN_ITEMS)
}

/// What a run of `inner` costs in invocations of `items` vec4s: their
/// places and set-up, padding included.
fn run_cost(inner: u64, head: u64, items: u64) -> u64 {
    let invocations = run_slots(inner.div_ceil(4).div_ceil(items), head) - head;
    invocations * (items + SET_UP_PLACES)
}

/// Partials a run of `per_run` invocations keeps, its `head` first: pass 2
/// reads a channel's partials as vec4s where each run's lie in fours, so
/// long runs pad them with idle invocations.
pub(crate) fn run_slots(per_run: u64, head: u64) -> u64 {
    match per_run >= PAD_SLOTS_FROM {
        true => (per_run + head).next_multiple_of(4),
        false => per_run + head,
    }
}

/// `Runs`: `per_run` invocations of `run_items` vec4s per run, one partial
/// each after the run's head; chunks of whole invocations within a binding.
pub(crate) fn runs(layout: Layout, chunk: u64) -> Plan {
    let Layout {
        outer,
        channels: c,
        inner,
    } = layout;
    let total = outer * c * inner;
    let runs = outer * c;
    // Runs that end inside a vec4 have a head before their partials; a
    // single run has none (its last vec4 is the tensor's, `TAIL`'s).
    let head = u64::from(ragged(inner, total));
    let items = run_items(inner, head);
    // The most vec4s that start inside one run, over its invocations.
    let slots = run_slots(inner.div_ceil(4).div_ceil(items).max(1), head);
    let per_run = slots - head;
    let threads = runs * per_run;
    let vec4s = |t: u64| {
        let (r, j) = (t / per_run, t % per_run);
        let (first, last) = run_vec4s(r, inner);
        let start = (first + j * items).min(last + 1);
        (start, (start + items).min(last + 1))
    };
    // Invocations per chunk: their vec4s, from the first's start, within
    // a binding.
    let per_chunk = (chunk / (4 * items)).max(1);
    let mut chunks = Vec::new();
    let mut t0 = 0;
    while t0 < threads {
        let t1 = (t0 + per_chunk).min(threads);
        let first = 4 * vec4s(t0).0;
        let end = (4 * vec4s(t1 - 1).1).min(total).max(first);
        // A chunk writes its invocations' partials and the heads of the
        // runs that start inside its last vec4s.
        let p0 = (t0 / per_run) * slots;
        let p1 = ((t1 - 1) / per_run + 1 + head) * slots;
        chunks.push(Chunk {
            first,
            elements: end - first,
            base: t0,
            items: t1 - t0,
            partials: (p0, p1.min(runs * slots)),
        });
        t0 = t1;
    }
    Plan {
        pass1: Pass1::Runs,
        inner,
        items,
        per_run,
        slots,
        row: 0,
        row_groups: 0,
        rows: 0,
        chunks,
        partials: runs * slots,
        fold: Fold::None,
        fold_stride: 0,
        reduced: 0,
        a_stride: c * slots,
        b_count: slots,
        pass2: Pass2::Narrow,
        slabs: Vec::new(),
    }
}

/// The rows of `Columns`, where they fit: `row` vec4s, whole steps (the
/// fewest periods that are whole vec4s; `Columns::new`); `rows` of them
/// per block, within a binding.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Columns {
    row: u64,
    rows: u64,
}

impl Columns {
    pub(crate) fn new(period: u64, chunk: u64) -> Option<Self> {
        if period == 0 {
            return None;
        }
        // vec4s in the least common multiple of the period and 4.
        let step = period / gcd(period, 4);
        // As many steps as one workgroup holds (the workgroup then as wide
        // as the row: `Plan::workgroup`), so that it reads its sixteen
        // rows one after another, however short (channels-last 131, rows
        // of 131 vec4s: 1.19 × the floor with the weight gradient, where
        // two steps over two workgroups of 136 read 1.44); where a step
        // is longer, the fewest steps whose workgroups average
        // `BUSY_SHARE_FROM` vec4s or more, over which `Plan::workgroup`
        // shares the row evenly, and that is not two workgroups wide
        // (`ROW_GROUPS_SHUNNED`), as long as a block of its rows fits a
        // binding (eight steps longer than a workgroup always average 228
        // or more, so the row grows at most seven times).
        let wg = u64::from(WORKGROUP_SIZE);
        let settled = |row: u64| {
            let groups = row.div_ceil(wg);
            row / groups >= BUSY_SHARE_FROM && groups != ROW_GROUPS_SHUNNED
        };
        let fits = |row: u64| 4 * row * COLUMN_ROWS <= chunk;
        let row = match step <= wg {
            true => wg / step * step,
            false => {
                let mut row = step;
                while !settled(row) && fits(row + step) {
                    row += step;
                }
                row
            }
        };
        let rows = COLUMN_ROWS.min(chunk / (4 * row));
        (rows > 0).then_some(Self { row, rows })
    }

    /// The plan over `total` elements of `period`-element periods: a
    /// block's partials are its row's lanes, a whole number of periods,
    /// channel c's `inner` of each at c * inner.
    pub(crate) fn plan(self, total: u64, period: u64, inner: u64, chunk: u64) -> Plan {
        let Self { row, rows } = self;
        let block = 4 * row * rows; // elements
        let blocks = total.div_ceil(block);
        let row_groups = row.div_ceil(u64::from(WORKGROUP_SIZE));
        let per_chunk = (chunk / block).max(1);
        let mut chunks = Vec::new();
        let mut b0 = 0;
        while b0 < blocks {
            let b1 = (b0 + per_chunk).min(blocks);
            let first = (b0 * block).min(total);
            chunks.push(Chunk {
                first,
                elements: (b1 * block).min(total) - first,
                base: b0,
                items: b1 - b0,
                partials: (b0 * 4 * row, b1 * 4 * row),
            });
            b0 = b1;
        }
        Plan {
            pass1: Pass1::Columns,
            inner,
            items: 0,
            per_run: 0,
            slots: 0,
            row,
            row_groups,
            rows,
            chunks,
            partials: blocks * 4 * row,
            fold: Fold::None,
            fold_stride: 0,
            reduced: 0,
            a_stride: period,
            b_count: inner,
            pass2: Pass2::Narrow,
            slabs: Vec::new(),
        }
    }
}

/// Items of a chunk (runs: invocations; columns: blocks of rows)
/// dispatched together. `tail`: the one item that holds the tensor's
/// partial last vec4, on its own with the kernel that has the tail's code
/// (`TAIL`), so that every other invocation runs without it: a software
/// rasteriser runs a branch's code in every invocation, and the tail's
/// scalar loads and stores there cost lavapipe's walks 10–30%
/// (BENCHMARKS.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Piece {
    pub(crate) base: u64,
    pub(crate) items: u64,
    pub(crate) workgroups: u64,
    pub(crate) tail: bool,
}

impl Plan {
    /// The item that holds the tensor's partial last vec4, where `total`
    /// is not a multiple of four: the invocation of the last run whose
    /// vec4s reach it, or the block of rows it lies in (the invocation of
    /// its column takes it after the rows, in `column_walk`).
    pub(crate) fn tail_item(&self, total: u64) -> Option<u64> {
        if total.is_multiple_of(4) {
            return None;
        }
        let whole = total / 4;
        Some(match self.pass1 {
            Pass1::Runs => {
                let r = total / self.inner - 1;
                let (first, _) = run_vec4s(r, self.inner);
                r * self.per_run + (whole - first) / self.items
            }
            Pass1::Columns => whole / (self.rows * self.row),
        })
    }

    /// Rows of the columns walk between two barriers on a software
    /// rasteriser (`ROW_BARRIER`): `WIDE_ROWS_PER_BARRIER` where a row is
    /// wider than a workgroup; one where a workgroup holds the row, whose
    /// rows then lie end to end and stream as they are (four there read
    /// 0.01–0.1 slower in the backward: channels-last 37, 64, 512 and
    /// 1,024; BENCHMARKS.md).
    pub(crate) fn barrier_rows(&self) -> u64 {
        match self.row_groups > 1 {
            true => WIDE_ROWS_PER_BARRIER,
            false => 1,
        }
    }

    /// Vec4 columns side by side each invocation of the columns walk takes
    /// (`COLUMNS`): `SIDE_COLUMNS` on a software rasteriser where a
    /// workgroup holds the row, one elsewhere. Such a rasteriser runs a
    /// workgroup's SIMD groups in turn up to each barrier, one after each
    /// row there, and every turn costs it a switch: by turns on lavapipe,
    /// two vec4s a turn read 0.13–0.34 of the floor lower in
    /// channels-last's backward with the weight gradient (1.41–1.47 →
    /// 1.11–1.33 in one stretch), 0.06–0.22 in its input gradient alone,
    /// and four no better than two (BENCHMARKS.md). Wider rows have a
    /// barrier every fourth row only, and a GPU has no turns to save.
    /// Where the columns' partials lie, and so the sums' order, is the
    /// same either way.
    pub(crate) fn columns_each(&self, cpu_adapter: bool) -> u64 {
        let engine = u64::from(WORKGROUP_SIZE);
        match self.pass1 == Pass1::Columns && cpu_adapter && self.row <= engine {
            true => SIDE_COLUMNS,
            false => 1,
        }
    }

    /// The workgroups of `items` items of pass 1.
    pub(crate) fn workgroups(&self, items: u64) -> u64 {
        match self.pass1 {
            Pass1::Runs => items.div_ceil(u64::from(WORKGROUP_SIZE)),
            Pass1::Columns => items * self.row_groups,
        }
    }

    /// The dispatches of `chunk` of a tensor of `total` elements: its
    /// items, with the tail's apart where it is in this chunk.
    pub(crate) fn pieces(&self, chunk: &Chunk, total: u64) -> Vec<Piece> {
        let end = chunk.base + chunk.items;
        let piece = |base: u64, end: u64, tail| Piece {
            base,
            items: end - base,
            workgroups: self.workgroups(end - base),
            tail,
        };
        match self.tail_item(total) {
            Some(t) if (chunk.base..end).contains(&t) => [
                piece(chunk.base, t, false),
                piece(t, t + 1, true),
                piece(t + 1, end, false),
            ]
            .into_iter()
            .filter(|p| p.items > 0)
            .collect(),
            _ => vec![piece(chunk.base, end, false)],
        }
    }
}

#[cfg(test)]
mod tests;
