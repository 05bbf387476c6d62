//! The weight gradient's plan: a pure function from the tensor's layout and
//! the device's limits to the kernels of each pass and their chunks. It
//! decides the order of the sums, so it sees the shape alone, never where
//! the tensors sit (that only chooses vec4 or scalar loads, in the same
//! order). Tested on the CPU against a table of shapes.
//!
//! Pass 1 reads and writes the tensors as the element-wise kernels do —
//! every invocation takes vec4s whose places follow from the shape alone,
//! neighbouring invocations neighbouring memory — and sums each lane of its
//! vec4s apart, so the four lanes may belong to four channels. On a
//! software rasteriser the places matter more than anything else: an
//! invocation's vec4s must lie either side by side (four to seven of
//! them, whichever leaves fewest places idle) or a row apart, the
//! workgroup going through them a row at a time (a barrier after each of
//! sixteen, or after every fourth where a row is wider than a workgroup:
//! sixteen rows, where eight without barriers were 1.1–1.2× slower and
//! sixteen 1.3–1.5×), each workgroup's stretch of a row as long as the row
//! allows; 256 bytes to 2 KiB apart without the barrier, or sixteen
//! side by side, measured 1.4–2.8× slower (BENCHMARKS.md). Scalar loads
//! cost as much, so odd lengths are vec4s too, their lanes masked.

use crate::engine::WORKGROUP_SIZE;
use crate::error::{Error, Result};
use crate::shape::gcd;

use super::walks::{self, runs, Columns};

pub(crate) use super::slabs::Slab;

/// Runs at least this long take `weight_grad_runs` even where the tensor
/// has the rows for columns: an invocation's sixteen elements then stay
/// four-fifths full at a run's end, and its partials are half as many.
const RUNS_FROM: u64 = 64;
/// The same for the forward and the input gradient alone, which leave no
/// partials: on lavapipe at 16M the runs walk took runs of 33, 49 and 63
/// in a batch 0.03–0.2 of the floor faster than columns (BENCHMARKS.md).
const RUNS_ALONE_FROM: u64 = 32;
/// Columns from this many rows: half an invocation's rows or more.
const COLUMNS_FROM_ROWS: u64 = walks::COLUMN_ROWS / 2;
/// Below this many partials per channel, one invocation per channel sums
/// them; above, a workgroup does.
const REDUCE_WIDE_FROM: u64 = 64;
/// Partials one invocation of a fold adds (`Fold`).
pub(crate) const FOLD_ROWS: u64 = 64;
/// Partials in more rows than this are folded before pass 2.
const FOLD_FROM_ROWS: u64 = 256;
/// A run's partials are folded only where there are this many in all: for
/// fewer, pass 2 is short and the fold one more dispatch.
const FOLD_FROM_PARTIALS: u64 = 1 << 15;
/// Runs with this many partials or more fold them (four a run, a quarter
/// or fewer, stay): pass 2's workgroup per channel read a batch's rows of
/// them a few hundred bytes at a time, 53 KB apart for `[80, 256, 28, 28]`
/// (52 a run then: 1.9–3.4 ms at 16M on lavapipe), where the fold reads
/// them in order (1.3–2.3 with pass 2). Its 28 a run now, unfolded, kept
/// the backward at 1.31× the floor; folded, 1.15 (BENCHMARKS.md).
const FOLD_RUNS_FROM_SLOTS: u64 = 16;
/// Invocations a software rasteriser runs together (32-bit lanes of 256-bit
/// vectors): a columns workgroup of a long row is a whole number of them.
const SIMD_GROUP: u64 = 8;
/// Rows of partials this many floats apart (512 bytes) or more are read a
/// row at a time by each workgroup on a software rasteriser (`rows_apart`).
const ROWS_APART_FROM: u64 = 128;
/// Columns' periods from which an invocation per channel sums the partials.
const NARROW_FROM_PERIOD: u64 = 32;
/// Where runs' partials lie in fours, one invocation per channel sums up to
/// this many, without a barrier; a workgroup sums more. The invocation was the
/// faster on lavapipe up to here and no slower at four times as many
/// (BENCHMARKS.md).
const REDUCE_NARROW_VEC4_UP_TO: u64 = 1024;

/// The tensor as the weight gradient sees it: `outer` rows of `channels`
/// runs of `inner` elements each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) outer: u64,
    pub(crate) channels: u64,
    pub(crate) inner: u64,
}

/// The device's limits as the plan needs them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Elements one binding holds wherever it starts (`chunk_elements`).
    pub(crate) chunk: u64,
    /// The largest storage binding, in bytes.
    pub(crate) binding: u64,
    /// The storage-buffer offset alignment, in bytes.
    pub(crate) align: u64,
}

/// How pass 1 walks the tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pass1 {
    /// Inside each channel run: an invocation takes four to seven vec4s
    /// (`walks::run_items`) side by side, all starting in its run, and
    /// leaves one partial. A run's last vec4 may reach into the next run
    /// (runs of any length from 4): those lanes' terms go to the next
    /// run's first partial, its head.
    Runs,
    /// The tensor as rows of `row` vec4s, a whole number of channel periods
    /// (channels · inner elements) each, so that a lane's channel is the
    /// same in every row: an invocation takes one vec4 column of
    /// `COLUMN_ROWS` rows and leaves its four lanes' partials.
    Columns,
}

/// How pass 2 sums each channel's partials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pass2 {
    /// A workgroup per channel, partials read as vec4s.
    WideVec4,
    /// A workgroup per channel.
    Wide,
    /// An invocation per channel, partials read as the vec4s that hold them.
    NarrowVec4,
    /// An invocation per channel, partials read one by one (rows shorter
    /// than four).
    Narrow,
    /// An invocation per four channels: rows of one partial per channel
    /// (channels-last, a dense layer), read four at a time.
    FourChannels,
    /// `FourChannels` where the rows are whole vec4s: a vec4 load a row.
    FourChannelsVec4,
}

/// Partials added up between the passes, so that pass 2 has few a channel
/// and every workgroup of the fold a share: without it, one channel's
/// million partials (one shared weight at 16M elements) were one
/// workgroup's, a fifth of the backward's time on lavapipe (BENCHMARKS.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fold {
    None,
    /// Many rows: `FOLD_ROWS` rows of partials (`fold_stride` apart) into
    /// one, in order (`weight_grad_fold`).
    Rows,
    /// `Rows` where rows are whole vec4s: an invocation per four columns,
    /// a vec4 load a row (`weight_grad_fold_vec4`), each column's sum the
    /// same.
    RowsVec4,
    /// Runs with many partials: each run's `slots` (pass 1's) into `b_count`,
    /// partial j of them adding partials j, j + b_count, … of the run in
    /// order (`weight_grad_fold_runs`), so that neighbouring invocations
    /// read neighbouring partials.
    Runs,
}

/// One dispatch of pass 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Chunk {
    /// The tensor's elements it binds (`first` a multiple of four).
    pub(crate) first: u64,
    pub(crate) elements: u64,
    /// Its first invocation (runs) or block of rows (columns).
    pub(crate) base: u64,
    /// Invocations (runs) or blocks (columns) in it.
    pub(crate) items: u64,
    /// The partials it writes lie in `start..end`.
    pub(crate) partials: (u64, u64),
}

/// The whole weight gradient: pass 1's kernel and chunks, where it leaves
/// the partials, and pass 2's kernel and slabs.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub(crate) pass1: Pass1,
    /// Elements per channel run (the whole tensor for one shared weight).
    pub(crate) inner: u64,
    /// Runs: vec4s per invocation, side by side (`walks::run_items`).
    pub(crate) items: u64,
    /// Runs: invocations per run, and partials per run (where runs are not
    /// a whole number of vec4s, the head first).
    pub(crate) per_run: u64,
    pub(crate) slots: u64,
    /// Columns: vec4s per row, workgroups per block of rows, rows per block.
    pub(crate) row: u64,
    pub(crate) row_groups: u64,
    pub(crate) rows: u64,
    pub(crate) chunks: Vec<Chunk>,
    /// Partials pass 1 leaves: runs' `slots` each, run after run; or
    /// columns' rows of one period.
    pub(crate) partials: u64,
    /// What is added up before pass 2, where anything is.
    pub(crate) fold: Fold,
    /// `Rows` and `RowsVec4`: the floats between the rows the fold adds.
    /// `a_stride`; after `Columns` whose period is not a multiple of four,
    /// the fewest periods that are (a block's partials hold a whole number
    /// of them), so that the fold reads vec4s whatever the channel count.
    pub(crate) fold_stride: u64,
    /// The partials pass 2 reads (pass 1's, or the folded ones): channel
    /// c's are at `a * a_stride + c * b_count + b` for `a` in a slab's
    /// rows, `b < b_count`.
    pub(crate) reduced: u64,
    pub(crate) a_stride: u64,
    pub(crate) b_count: u64,
    pub(crate) pass2: Pass2,
    pub(crate) slabs: Vec<Slab>,
}

impl Plan {
    /// Whether the rows of partials that the fold and pass 2 read down lie
    /// `ROWS_APART_FROM` floats or more apart. A software rasteriser runs
    /// a workgroup's SIMD groups one after another, each down all its rows
    /// a row's length apart, which a CPU's prefetchers lose; with a barrier
    /// after each row the workgroup reads a stretch of each row side by
    /// side (pass 2 of a dense layer of 4,096 units at 16M on lavapipe:
    /// 2.0 ms without, 0.85 with). Nearer rows are read a stretch at a time
    /// anyway, and there the barriers only cost (the fold of channels-last
    /// 64: 0.6 ms without, 1.2–2.0 with; of channels-last 128, 1.8 ms
    /// without, 1.5 with; BENCHMARKS.md).
    pub(crate) fn rows_apart(&self) -> bool {
        self.a_stride >= ROWS_APART_FROM
    }

    /// `rows_apart` for the rows the fold adds (`fold_stride`).
    pub(crate) fn fold_rows_apart(&self) -> bool {
        self.fold_stride >= ROWS_APART_FROM
    }

    /// Invocations per workgroup of pass 1: the engine's; for columns, a
    /// shorter row itself (37 channels: 222, not 256), a longer one shared
    /// evenly over its `row_groups`, each share a whole number of SIMD
    /// groups (rows of 1,799 vec4s: eight of 232, not seven of 256 and
    /// one of 7). A software rasteriser runs an idle invocation's walk as
    /// it runs a busy one: in rows of 528 vec4s a third workgroup of 16
    /// made runs of 33 in 64 channels 1.40× the floor with the weight
    /// gradient, three of 176 1.20. Shares cut off a SIMD group's width
    /// were slower where the last workgroup was nearly full (four of 251
    /// for rows of 1,001 vec4s, not three of 256 and one of 233: +0.03 to
    /// +0.09; BENCHMARKS.md). Where an invocation takes `columns_each`
    /// columns, a row's workgroup is as many times fewer (a row of 222
    /// vec4s on a software rasteriser: 111).
    pub(crate) fn workgroup(&self, cpu_adapter: bool) -> u64 {
        let engine = u64::from(WORKGROUP_SIZE);
        match self.pass1 {
            Pass1::Columns if self.row <= engine => {
                self.row.div_ceil(self.columns_each(cpu_adapter))
            }
            Pass1::Columns => self
                .row
                .div_ceil(self.row_groups)
                .next_multiple_of(SIMD_GROUP)
                .min(engine),
            Pass1::Runs => engine,
        }
    }
}

/// The plan of the weight gradient for `layout` under `limits`.
///
/// One shared weight is one run of the whole tensor. Runs of 64 elements
/// or more, or of 4 or more where there are too few rows to fill columns
/// (or a row is too long to bind), take `Runs`; the rest (channels-last, a
/// dense layer, small images in a batch) `Columns`.
pub(crate) fn plan(layout: Layout, limits: Limits) -> Result<Plan> {
    plan_from(layout, limits, RUNS_FROM)
}

/// The walk of the forward and the input gradient alone: `plan`'s, but
/// runs of 32 elements or more take `Runs` in a batch too.
pub(crate) fn plan_alone(layout: Layout, limits: Limits) -> Result<Plan> {
    plan_from(layout, limits, RUNS_ALONE_FROM)
}

/// `plan` with runs of `runs_from` elements or more taking `Runs`.
fn plan_from(layout: Layout, limits: Limits, runs_from: u64) -> Result<Plan> {
    let layout = match layout.channels {
        1 => Layout {
            outer: 1,
            channels: 1,
            inner: layout.outer * layout.inner,
        },
        _ => layout,
    };
    let Layout {
        outer,
        channels: c,
        inner,
    } = layout;
    let period = c * inner;
    if outer * period == 0 {
        // Nothing to read: no partials, and pass 2 writes zero sums.
        let mut plan = runs(Layout { outer: 0, ..layout }, limits.chunk);
        plan.pass2 = Pass2::Narrow;
        plan.slabs = super::slabs::slabs(limits.binding, limits.align, 0, c, [0, 0, 0])?;
        return Ok(plan);
    }
    let columns = Columns::new(period, limits.chunk);
    let pass1 = match columns {
        Some(_) if inner < 4 => Pass1::Columns,
        Some(_) if inner < runs_from && outer >= COLUMNS_FROM_ROWS => Pass1::Columns,
        _ if inner >= 4 => Pass1::Runs,
        _ => {
            return Err(Error::TooLarge {
                what: "the channel period of PReLU's weight gradient (elements)",
                size: period,
                limit: limits.chunk / 4,
                hint: "put the channel axis where runs are at least four elements long, \
                       or use fewer channels",
            })
        }
    };
    let mut plan = match (pass1, columns) {
        (Pass1::Columns, Some(columns)) => {
            columns.plan(outer * period, period, inner, limits.chunk)
        }
        _ => runs(layout, limits.chunk),
    };
    plan.reduced = plan.partials;
    plan.pass2 = pass2(&plan, c);
    // Partials are rows of one period (columns) or of every run's
    // (runs): where there are many rows, fold them first, so that pass 2's
    // invocations have few each; where runs have many, fold each run's.
    // The fold binds the partials whole.
    let rows = plan.partials / plan.a_stride;
    let fits = plan.partials * 4 <= limits.binding;
    let many = plan.partials >= FOLD_FROM_PARTIALS;
    if fits && many && plan.pass1 == Pass1::Runs && plan.slots >= FOLD_RUNS_FROM_SLOTS {
        // In fours, so that pass 2 reads vec4s.
        let per_run = plan.slots.div_ceil(FOLD_ROWS).next_multiple_of(4);
        plan.fold = Fold::Runs;
        plan.b_count = per_run;
        plan.a_stride = c * per_run;
        plan.reduced = rows * plan.a_stride;
        plan.pass2 = pass2(&plan, c);
    } else if fits && rows > FOLD_FROM_ROWS {
        // A columns block's partials are whole vec4s, so whole rows of
        // the fewest periods that are; runs' rows are one period each.
        plan.fold_stride = match plan.pass1 {
            Pass1::Columns => plan.a_stride * 4 / gcd(plan.a_stride, 4),
            Pass1::Runs => plan.a_stride,
        };
        plan.fold = match plan.fold_stride.is_multiple_of(4) {
            true => Fold::RowsVec4,
            false => Fold::Rows,
        };
        plan.reduced = (plan.partials / plan.fold_stride).div_ceil(FOLD_ROWS) * plan.fold_stride;
    }
    plan.slabs = super::slabs::slabs(
        limits.binding,
        limits.align,
        plan.reduced,
        c,
        [
            plan.reduced / (c * plan.b_count).max(1),
            plan.a_stride,
            plan.b_count,
        ],
    )?;
    // Four channels an invocation where a row has one partial each; as a
    // vec4 where the rows and every slab's first channel lie on vec4s.
    if plan.pass2 == Pass2::Narrow && plan.b_count == 1 {
        let in_vec4s = plan.a_stride.is_multiple_of(4) && plan.slabs.iter().all(|s| s.c0 % 4 == 0);
        plan.pass2 = match in_vec4s {
            true => Pass2::FourChannelsVec4,
            false => Pass2::FourChannels,
        };
    }
    Ok(plan)
}

/// Pass 2 for where pass 1 left the partials (a workgroup per channel reads
/// vec4s where each channel's lie in fours, an invocation per channel where
/// its rows are four or longer). After `Runs`, a channel's partials lie
/// side by side in rows: a workgroup per channel reads them in turn, an
/// invocation where they are few. After `Columns` they lie a period apart: a workgroup per
/// channel would have every lane read its own cache line, so where the
/// period is 32 or more an invocation takes a channel, neighbouring
/// invocations neighbouring channels (12–20 ms for the workgroups at 16M
/// elements on lavapipe, under 2 for the invocations).
fn pass2(plan: &Plan, channels: u64) -> Pass2 {
    let in_fours = plan.b_count.is_multiple_of(4) && plan.a_stride.is_multiple_of(4);
    let per_channel = plan.reduced / channels.max(1);
    let narrow = match plan.pass1 {
        Pass1::Columns => plan.a_stride >= NARROW_FROM_PERIOD || per_channel < REDUCE_WIDE_FROM,
        Pass1::Runs => match in_fours {
            true => per_channel <= REDUCE_NARROW_VEC4_UP_TO,
            false => per_channel < REDUCE_WIDE_FROM,
        },
    };
    match (in_fours, narrow) {
        (_, true) if plan.b_count >= 4 => Pass2::NarrowVec4,
        (_, true) => Pass2::Narrow,
        (true, false) => Pass2::WideVec4,
        (false, false) => Pass2::Wide,
    }
}

#[cfg(test)]
mod tests;
