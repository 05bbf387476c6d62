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
//! invocation's vec4s must lie either side by side (four of them) or a
//! whole 4 KiB apart (eight); 256 bytes to 2 KiB apart, or sixteen side by
//! side, measured 1.4–2.8× slower (BENCHMARKS.md). Scalar loads cost as
//! much, so odd lengths are vec4s too, their lanes masked.

use crate::engine::WORKGROUP_SIZE;
use crate::error::{Error, Result};

pub(crate) use super::slabs::Slab;

/// vec4s an invocation of `weight_grad_runs` takes, side by side.
pub(crate) const RUN_ITEMS: u64 = 4;
/// Rows of vec4s an invocation of `weight_grad_columns` takes, a row apart.
pub(crate) const COLUMN_ROWS: u64 = 8;
/// Runs at least this long take `weight_grad_runs` even where the tensor
/// has the rows for columns: an invocation's sixteen elements then stay
/// four-fifths full at a run's end, and its partials are half as many.
const RUNS_FROM: u64 = 64;
/// Columns' rows are one workgroup wide where that is this many vec4s or
/// more (3 KiB of f32).
const ONE_GROUP_FROM: u64 = 192;
/// Columns need this many rows to fill an invocation's eight.
const COLUMNS_FROM_ROWS: u64 = COLUMN_ROWS;
/// Below this many partials per channel, one invocation per channel sums
/// them; above, a workgroup does.
const REDUCE_WIDE_FROM: u64 = 64;
/// Rows of partials one invocation of `weight_grad_fold` adds, and the
/// rows from which pass 2 folds them first.
pub(crate) const FOLD_ROWS: u64 = 64;
const FOLD_FROM_ROWS: u64 = 256;
/// Columns' periods from which an invocation per channel sums the partials.
const NARROW_FROM_PERIOD: u64 = 32;
/// Where partials lie in fours, one invocation per channel sums up to this
/// many, without a barrier; a workgroup sums more. The invocation was the
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
    /// Inside each channel run: an invocation takes up to four vec4s side
    /// by side, all starting in its run, and leaves one partial. A run's
    /// last vec4 may reach into the next run (runs of any length from 4):
    /// those lanes' terms go to the next run's first partial, its head.
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
    /// An invocation per channel, partials read as vec4s.
    NarrowVec4,
    /// An invocation per channel.
    Narrow,
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
    pub(crate) workgroups: u64,
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
    /// Runs: invocations per run, and partials per run (where runs are not
    /// a whole number of vec4s, the head first).
    pub(crate) per_run: u64,
    pub(crate) slots: u64,
    /// Columns: vec4s per row, workgroups per block of rows, rows per block.
    pub(crate) row: u64,
    pub(crate) row_groups: u64,
    pub(crate) rows: u64,
    pub(crate) chunks: Vec<Chunk>,
    /// Partials pass 1 leaves; channel c's are at `a * a_stride + c *
    /// b_count + b` for `a` in a slab's rows, `b < b_count`.
    pub(crate) partials: u64,
    /// Where not 0, rows of partials (of `a_stride` each) that one
    /// invocation of `weight_grad_fold` adds into one, before pass 2.
    pub(crate) fold_rows: u64,
    /// The partials pass 2 reads, in the same arrangement: pass 1's, or
    /// the folded rows.
    pub(crate) reduced: u64,
    pub(crate) a_stride: u64,
    pub(crate) b_count: u64,
    pub(crate) pass2: Pass2,
    pub(crate) slabs: Vec<Slab>,
}

/// The plan for `layout` under `limits`.
///
/// One shared weight is one run of the whole tensor. Runs of 64 elements
/// or more, or of 4 or more where there are too few rows to fill columns
/// (or a row is too long to bind), take `Runs`; the rest (channels-last, a
/// dense layer, small images in a batch) `Columns`.
pub(crate) fn plan(layout: Layout, limits: Limits) -> Result<Plan> {
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
        Some(_) if inner < RUNS_FROM && outer >= COLUMNS_FROM_ROWS => Pass1::Columns,
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
    // Columns' partials are rows of one period: where there are many, fold
    // them first, so that pass 2's invocations have few each.
    let rows = plan.partials / period;
    if plan.pass1 == Pass1::Columns && rows > FOLD_FROM_ROWS && plan.partials * 4 <= limits.binding
    {
        plan.fold_rows = FOLD_ROWS;
        plan.reduced = rows.div_ceil(FOLD_ROWS) * period;
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
    Ok(plan)
}

/// Pass 2 for where pass 1 left the partials: vec4s where each channel's
/// lie in fours. After `Runs`, a channel's partials lie side by side in
/// rows: a workgroup per channel reads them in turn, an invocation where
/// they are few. After `Columns` they lie a period apart: a workgroup per
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
        (true, false) => Pass2::WideVec4,
        (false, false) => Pass2::Wide,
        (true, true) => Pass2::NarrowVec4,
        (false, true) => Pass2::Narrow,
    }
}

/// Where run r's vec4s are: those starting inside it, `first..=last` (its
/// last may reach into run r + 1).
pub(crate) fn run_vec4s(r: u64, inner: u64) -> (u64, u64) {
    let start = r * inner;
    (start.div_ceil(4), (start + inner - 1) / 4)
}

/// `Runs`: `per_run` invocations of `RUN_ITEMS` vec4s per run, one partial
/// each after the run's head; chunks of whole invocations within a binding.
fn runs(layout: Layout, chunk: u64) -> Plan {
    let Layout {
        outer,
        channels: c,
        inner,
    } = layout;
    let total = outer * c * inner;
    let runs = outer * c;
    // The most vec4s that start inside one run.
    let per_run = inner.div_ceil(4).div_ceil(RUN_ITEMS).max(1);
    // Runs that end inside a vec4 have a head before their partials.
    let head = u64::from(!inner.is_multiple_of(4));
    // Pass 2 reads a channel's partials as vec4s where each run's lie in
    // fours: for long runs, worth the idle invocations that pad them.
    let slots = match per_run >= 16 {
        true => (per_run + head).next_multiple_of(4),
        false => per_run + head,
    };
    let per_run = slots - head;
    let threads = runs * per_run;
    let vec4s = |t: u64| {
        let (r, j) = (t / per_run, t % per_run);
        let (first, last) = run_vec4s(r, inner);
        let start = (first + j * RUN_ITEMS).min(last + 1);
        (start, (start + RUN_ITEMS).min(last + 1))
    };
    // Invocations per chunk: their vec4s, from the first's start, within
    // a binding.
    let per_chunk = (chunk / (4 * RUN_ITEMS)).max(1);
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
            workgroups: (t1 - t0).div_ceil(u64::from(WORKGROUP_SIZE)),
            partials: (p0, p1.min(runs * slots)),
        });
        t0 = t1;
    }
    Plan {
        pass1: Pass1::Runs,
        inner,
        per_run,
        slots,
        row: 0,
        row_groups: 0,
        rows: 0,
        chunks,
        partials: runs * slots,
        fold_rows: 0,
        reduced: 0,
        a_stride: c * slots,
        b_count: slots,
        pass2: Pass2::Narrow,
        slabs: Vec::new(),
    }
}

/// The rows of `Columns`, where they fit: `row` vec4s, the fewest periods
/// that make at least 256 vec4s (4 KiB of f32) and a whole number of
/// vec4s; `rows` of them per block, within a binding.
#[derive(Clone, Copy, Debug)]
struct Columns {
    row: u64,
    rows: u64,
}

impl Columns {
    fn new(period: u64, chunk: u64) -> Option<Self> {
        if period == 0 {
            return None;
        }
        // vec4s in the least common multiple of the period and 4.
        let step = period / gcd(period, 4);
        // One workgroup's worth where that leaves rows 3 KiB apart or
        // more; else the fewest workgroups past it (a second, nearly idle
        // workgroup per block cost lavapipe as much as a full one).
        let wg = u64::from(WORKGROUP_SIZE);
        let within = wg / step * step;
        let row = match within >= ONE_GROUP_FROM {
            true => within,
            false => step * wg.div_ceil(step),
        };
        let rows = COLUMN_ROWS.min(chunk / (4 * row));
        (rows > 0).then_some(Self { row, rows })
    }

    /// The plan over `total` elements of `period`-element periods: a
    /// block's partials are its row's lanes, a whole number of periods,
    /// channel c's `inner` of each at c * inner.
    fn plan(self, total: u64, period: u64, inner: u64, chunk: u64) -> Plan {
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
                workgroups: (b1 - b0) * row_groups,
                partials: (b0 * 4 * row, b1 * 4 * row),
            });
            b0 = b1;
        }
        Plan {
            pass1: Pass1::Columns,
            inner,
            per_run: 0,
            slots: 0,
            row,
            row_groups,
            rows,
            chunks,
            partials: blocks * 4 * row,
            fold_rows: 0,
            reduced: 0,
            a_stride: period,
            b_count: inner,
            pass2: Pass2::Narrow,
            slabs: Vec::new(),
        }
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    match b {
        0 => a,
        _ => gcd(b, a % b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// WebGPU's default limits: 128 MiB bindings, 256-byte alignment, as
    /// `chunk_elements` gives them for f32.
    const DEFAULT: Limits = Limits {
        chunk: ((128 << 20) - 252) / 4 / 4096 * 4096,
        binding: 128 << 20,
        align: 256,
    };

    /// `[outer, channels, inner...]`, or `[outer..., channels]` with the
    /// channel axis last where `last` (channels-last, a dense layer).
    fn layout(shape: &[u64], last: bool) -> Layout {
        match last {
            false => Layout {
                outer: shape[0],
                channels: shape[1],
                inner: shape[2..].iter().product(),
            },
            true => Layout {
                outer: shape[..shape.len() - 1].iter().product(),
                channels: shape[shape.len() - 1],
                inner: 1,
            },
        }
    }

    /// The planner's choice for each class of shape: one image or a batch,
    /// runs of every length from 1 to a million, channels-last with 1 to
    /// 4,096 channels, a dense layer, odd counts, one shared weight.
    #[test]
    fn each_shape_class_takes_its_path() {
        use Pass1::*;
        use Pass2::*;
        let table: [(&[u64], bool, Pass1, Pass2); 24] = [
            (&[1, 64, 512, 512], false, Runs, WideVec4), // one large image: long runs
            (&[1, 2, 32768], false, Runs, WideVec4),     // two channels
            (&[80, 64, 56, 56], false, Runs, WideVec4),  // a batch of 56x56: runs of 3,136
            (&[80, 256, 28, 28], false, Runs, WideVec4), // runs of 784
            (&[111, 3, 224, 224], false, Runs, WideVec4), // an RGB batch
            (&[50, 37, 99, 91], false, Runs, WideVec4),  // odd everything: runs of 9,009
            (&[2, 3, 1_000_003], false, Runs, WideVec4), // odd runs of a million
            (&[1, 64, 56, 56], false, Runs, NarrowVec4), // one image: 200 partials a channel
            (&[4, 3, 3000], false, Runs, NarrowVec4),    // four rows
            (&[2, 40, 5], false, Runs, Narrow),          // short odd runs, few rows
            (&[640, 512, 7, 7], false, Columns, Narrow), // runs of 49 in a batch
            (&[300, 4, 7], false, Columns, Wide),        // runs of 7
            (&[9, 3, 7], false, Columns, Wide),          // rows of 21 elements
            (&[16384, 1024], true, Columns, Narrow),     // a dense layer
            (&[80, 56, 56, 64], true, Columns, Narrow),  // channels-last 64
            (&[111, 224, 224, 3], true, Columns, Wide),  // channels-last 3
            (&[50, 99, 91, 37], true, Columns, Narrow),  // channels-last 37
            (&[4096, 4096], true, Columns, Narrow),      // 4,096 channels
            (&[2000, 1001], true, Columns, Narrow),      // an odd count past 1,024
            (&[40000, 1], true, Runs, WideVec4),         // one channel: one run
            (&[1, 1, 40000], false, Runs, WideVec4),     // one shared weight
            (&[1000, 1], false, Runs, NarrowVec4),       // one weight, a short tensor
            (&[3, 1000, 2], false, Columns, Narrow),     // runs of 2, three rows
            (&[0, 3, 5], false, Runs, Narrow),           // empty
        ];
        let mut wrong = Vec::new();
        for (shape, last, pass1, pass2) in table {
            let layout = layout(shape, last);
            let plan = plan(layout, DEFAULT).unwrap();
            if (plan.pass1, plan.pass2) != (pass1, pass2) {
                wrong.push(format!("{shape:?}: {:?} {:?}", plan.pass1, plan.pass2));
            }
            assert_eq!(plan.slabs.len(), 1, "{shape:?}: partials fit one binding");
            // The chunks cover the tensor once, in order, each within a
            // binding, from a multiple of four.
            let mut next = 0;
            for chunk in &plan.chunks {
                assert_eq!(chunk.first, next, "{shape:?}");
                assert!(chunk.first.is_multiple_of(4), "{shape:?}");
                assert!(chunk.elements <= DEFAULT.chunk, "{shape:?}");
                assert!(chunk.partials.1 <= plan.partials, "{shape:?}");
                next += chunk.elements;
            }
            assert_eq!(next, shape.iter().product::<u64>(), "{shape:?}");
            // Every channel has as many partials, in rows of b_count.
            let c = layout.channels.max(1);
            assert_eq!(plan.partials % (c * plan.b_count.max(1)), 0, "{shape:?}");
            // Partials stay a small fraction of the tensor where it is large.
            let n = shape.iter().product::<u64>();
            if n >= 1 << 20 {
                assert!(
                    plan.partials * 7 <= n,
                    "{shape:?}: {} partials",
                    plan.partials
                );
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    /// Columns: a row is a whole number of periods and of vec4s, at least
    /// 3 KiB of f32, and as near one workgroup's 256 vec4s as it can be.
    #[test]
    fn column_rows_hold_whole_periods() {
        for period in [
            1u64, 2, 3, 4, 7, 37, 64, 96, 255, 256, 257, 1000, 1001, 1024, 4096, 25088,
        ] {
            let columns = Columns::new(period, DEFAULT.chunk).unwrap();
            assert!((4 * columns.row).is_multiple_of(period), "{period}");
            assert!(columns.row >= ONE_GROUP_FROM, "{period}");
            let step = period / gcd(period, 4);
            // One workgroup wide where a multiple of the step fits one,
            // else the least multiple past it.
            match step <= 256 && 256 / step * step >= ONE_GROUP_FROM {
                true => assert!(columns.row <= 256 && columns.row + step > 256, "{period}"),
                false => assert!(columns.row >= 256 && columns.row < 256 + step, "{period}"),
            }
        }
    }

    /// Runs: every vec4 that starts in the tensor belongs to one invocation,
    /// each invocation's vec4s start in its own run, and none crosses two
    /// run ends.
    #[test]
    fn runs_give_every_vec4_one_invocation() {
        for inner in [4u64, 5, 6, 7, 9, 16, 17, 49, 63, 64, 65, 784, 9009] {
            let runs = 9;
            let plan = runs_plan(inner, runs);
            let mut next = 0;
            for r in 0..runs {
                let (first, last) = run_vec4s(r, inner);
                assert_eq!(first, next, "inner {inner}, run {r}");
                assert!(
                    4 * first >= r * inner && 4 * last < (r + 1) * inner,
                    "inner {inner}"
                );
                assert!(
                    4 * last + 3 < (r + 2) * inner,
                    "inner {inner}: two run ends"
                );
                assert!(
                    last + 1 - first <= plan.per_run * RUN_ITEMS,
                    "inner {inner}"
                );
                next = last + 1;
            }
        }
    }

    fn runs_plan(inner: u64, runs: u64) -> Plan {
        let layout = Layout {
            outer: runs,
            channels: 1,
            inner,
        };
        super::runs(layout, DEFAULT.chunk)
    }

    /// Past one binding, chunks still split the tensor exactly.
    #[test]
    fn chunks_split_where_a_binding_ends() {
        let small = Limits {
            chunk: 4096,
            binding: 1 << 20,
            align: 256,
        };
        for (shape, last) in [(&[3u64, 5, 10007][..], false), (&[700, 37][..], true)] {
            let plan = plan(layout(shape, last), small).unwrap();
            assert!(plan.chunks.len() > 1, "{shape:?}");
            let mut next = 0;
            for chunk in &plan.chunks {
                assert_eq!(chunk.first, next, "{shape:?}");
                assert!(chunk.elements <= small.chunk, "{shape:?}");
                next += chunk.elements;
            }
            assert_eq!(next, shape.iter().product::<u64>());
        }
    }

    /// The plan depends on the shape and the limits only: the same shape
    /// always gets the same plan.
    #[test]
    fn the_plan_is_a_function_of_shape_and_limits() {
        let a = plan(layout(&[16, 64, 28, 28], false), DEFAULT).unwrap();
        let b = plan(layout(&[16, 64, 28, 28], false), DEFAULT).unwrap();
        assert_eq!(a.chunks, b.chunks);
        assert_eq!(a.slabs, b.slabs);
    }
}
