//! The weight gradient's plan: a pure function from the tensor's layout and
//! the device's limits to the kernels of each pass and their chunks. It
//! decides the order of the sums, so it sees the shape alone, never where
//! the tensors sit (that only chooses vec4 or scalar loads, in the same
//! order). Tested on the CPU against a table of shapes.

use crate::engine::WORKGROUP_SIZE;
use crate::error::Result;

pub(crate) use super::slabs::Slab;

/// Elements per invocation in a tile of `weight_grad_rows`.
pub(crate) const ITEMS_ROWS: u32 = 8;
/// Elements a tile of `weight_grad_rows` covers.
const ROWS_TILE: u64 = (WORKGROUP_SIZE * ITEMS_ROWS) as u64;
/// vec4s per invocation in a tile of `weight_grad_rows_vec4`, each
/// invocation leaving one partial: 64 elements per partial.
pub(crate) const ITEMS_ROWS_VEC4: u32 = 16;
/// Elements a tile of `weight_grad_rows_vec4` covers.
const ROWS_TILE_VEC4: u64 = (WORKGROUP_SIZE * ITEMS_ROWS_VEC4 * 4) as u64;
/// Rows an invocation of `weight_grad_cols` sums before writing a partial.
const COLS_ROWS: u64 = 64;
/// Runs a scalar tile long or longer take `weight_grad_cols_vec4` only where
/// it sums at least this many rows per partial: with fewer, the partials
/// approach the tensor's own size (scalar tiles leave one per tile).
const COLS_VEC4_MIN_ROWS: u64 = 8;
/// Below this many partials per channel, one invocation per channel sums
/// them; above, a workgroup does.
const REDUCE_WIDE_FROM: u64 = 64;
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
    /// Tiles of 16,384 elements inside each run, four at a time; one
    /// partial per invocation. Runs at least a tile long, a multiple of 4.
    RowsVec4,
    /// Tiles of 2,048 elements inside each run; one partial per tile.
    Rows,
    /// The tensor as a matrix of `outer` rows by channels·inner columns,
    /// four neighbouring columns per invocation, each summing a block of rows.
    ColsVec4,
    /// The same, one column per invocation.
    Cols,
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
    /// The tensor's elements it covers.
    pub(crate) first: u64,
    pub(crate) elements: u64,
    /// Its first tile (rows) or first block of rows (cols).
    pub(crate) base: u64,
    /// Tiles (rows) or invocations (cols) in it.
    pub(crate) items: u64,
    pub(crate) workgroups: u64,
    /// The partials it writes, `start..end`.
    pub(crate) partials: (u64, u64),
}

/// The whole weight gradient: pass 1's kernel and chunks, where it leaves
/// the partials, and pass 2's kernel and slabs.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub(crate) pass1: Pass1,
    /// Rows: tiles per channel run. Cols: rows per block.
    pub(crate) tiles: u64,
    pub(crate) rows: u64,
    pub(crate) chunks: Vec<Chunk>,
    /// Partials in all; channel c's are at `a * a_stride + c * b_count + b`
    /// for `a` in a slab's rows, `b < b_count`.
    pub(crate) partials: u64,
    pub(crate) a_stride: u64,
    pub(crate) b_count: u64,
    pub(crate) pass2: Pass2,
    pub(crate) slabs: Vec<Slab>,
}

/// The plan for `layout` under `limits`.
///
/// Runs a whole vec4 tile long or longer: four-at-a-time tiles inside each
/// run, which leave one partial per invocation (short runs would leave them
/// half empty). Otherwise columns, four at a time where rows are a multiple
/// of four long and the partials fit a binding (and, for runs a scalar tile
/// long, where a block sums enough rows that the partials stay a fraction
/// of the tensor); else scalar tiles inside each run where runs are long or
/// rows too long for a binding, scalar columns where not.
pub(crate) fn plan(layout: Layout, limits: Limits) -> Result<Plan> {
    let Layout {
        outer,
        channels: c,
        inner,
    } = layout;
    let chunk = limits.chunk;
    let period = c * inner;
    let rows_vec4 = inner.is_multiple_of(4) && inner >= ROWS_TILE_VEC4;
    let fit = chunk / period.max(1);
    let rows = COLS_ROWS.min(outer).min(fit).max(1);
    let blocks = outer.div_ceil(rows);
    let cols_vec4 = !rows_vec4
        && period.is_multiple_of(4)
        && period <= chunk
        && (inner < ROWS_TILE || rows >= COLS_VEC4_MIN_ROWS)
        && blocks * period * 4 <= limits.binding;
    let mut chunks = Vec::new();
    let (pass1, tiles, partials, a_count, a_stride, b_count);
    if !cols_vec4 && (inner >= ROWS_TILE || period > chunk) {
        let (kind, tile) = match rows_vec4 {
            true => (Pass1::RowsVec4, ROWS_TILE_VEC4),
            false => (Pass1::Rows, ROWS_TILE),
        };
        // The vec4 kernel leaves one partial per invocation, WG per tile.
        let per_tile = match kind {
            Pass1::RowsVec4 => u64::from(WORKGROUP_SIZE),
            _ => 1,
        };
        let run_tiles = inner.div_ceil(tile);
        let total = outer * c * run_tiles;
        let per_chunk = (chunk / tile).max(1);
        let tile_start = |t: u64| (t / run_tiles) * inner + (t % run_tiles) * tile;
        let tile_end = |t: u64| (tile_start(t) + tile).min((t / run_tiles + 1) * inner);
        let mut t0 = 0;
        while t0 < total {
            let t1 = (t0 + per_chunk).min(total);
            let first = tile_start(t0);
            chunks.push(Chunk {
                first,
                elements: tile_end(t1 - 1) - first,
                base: t0,
                items: t1 - t0,
                workgroups: t1 - t0,
                partials: (t0 * per_tile, t1 * per_tile),
            });
            t0 = t1;
        }
        (pass1, tiles) = (kind, run_tiles);
        (partials, a_count, a_stride, b_count) = (
            total * per_tile,
            outer,
            c * run_tiles * per_tile,
            run_tiles * per_tile,
        );
    } else {
        let per_chunk = (fit / rows).max(1);
        let (kind, width) = match cols_vec4 {
            true => (Pass1::ColsVec4, 4),
            false => (Pass1::Cols, 1),
        };
        let mut b0 = 0;
        while b0 < blocks {
            let b1 = (b0 + per_chunk).min(blocks);
            let threads = (b1 - b0) * period / width;
            chunks.push(Chunk {
                first: b0 * rows * period,
                elements: ((b1 * rows).min(outer) - b0 * rows) * period,
                base: b0,
                items: threads,
                workgroups: threads.div_ceil(u64::from(WORKGROUP_SIZE)),
                partials: (b0 * period, b1 * period),
            });
            b0 = b1;
        }
        (pass1, tiles) = (kind, 0);
        (partials, a_count, a_stride, b_count) = (blocks * period, blocks, period, inner);
    }
    // Partials whose rows are a multiple of four long and start a multiple
    // of four apart are read as vec4s.
    let in_fours = b_count.is_multiple_of(4) && a_stride.is_multiple_of(4);
    let per_channel = a_count * b_count;
    let pass2 = match (in_fours, per_channel) {
        (true, n) if n > REDUCE_NARROW_VEC4_UP_TO => Pass2::WideVec4,
        (true, _) => Pass2::NarrowVec4,
        (false, n) if n >= REDUCE_WIDE_FROM => Pass2::Wide,
        (false, _) => Pass2::Narrow,
    };
    let slabs = super::slabs::slabs(
        limits.binding,
        limits.align,
        partials,
        c,
        [a_count, a_stride, b_count],
    )?;
    Ok(Plan {
        pass1,
        tiles,
        rows,
        chunks,
        partials,
        a_stride,
        b_count,
        pass2,
        slabs,
    })
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

    fn layout(shape: &[u64]) -> Layout {
        Layout {
            outer: shape[0],
            channels: shape[1],
            inner: shape[2..].iter().product(),
        }
    }

    /// The planner's choice for each class of shape: one image or a batch,
    /// runs of every length class, channels-last, a dense layer, odd counts.
    #[test]
    fn each_shape_class_takes_its_path() {
        use Pass1::*;
        use Pass2::*;
        let table: [(&[u64], Pass1, Pass2); 17] = [
            (&[1, 64, 512, 512], RowsVec4, WideVec4), // one large image: long runs
            (&[1, 2, 32768], RowsVec4, NarrowVec4),   // two tiles a run
            (&[3, 2, 32768], RowsVec4, WideVec4),     // three rows of them
            (&[80, 64, 56, 56], ColsVec4, WideVec4),  // a batch of 56x56: runs of 3,136
            (&[80, 256, 28, 28], ColsVec4, WideVec4), // runs of 784 in two row blocks
            (&[640, 512, 7, 7], ColsVec4, Wide),      // runs of 49: partials not in fours
            (&[111, 3, 224, 224], RowsVec4, WideVec4), // three channels, long runs
            (&[1, 64, 56, 56], Rows, Narrow),         // one image, runs of 3,136
            (&[2, 3, 8191], Rows, NarrowVec4),        // odd runs a tile long
            (&[2, 3, 143361], Rows, Wide),            // odd long runs
            (&[4, 3, 3000], Rows, Narrow),            // too few rows for columns
            (&[16384, 1024], ColsVec4, Wide),         // a dense layer: a partial per unit and block
            (&[262144, 64], ColsVec4, Wide),          // channels-last, many rows
            (&[300, 4, 7], ColsVec4, Narrow),         // a weight per column, odd runs
            (&[50, 37, 99, 91], Rows, Wide),          // odd everything: runs of 9,009
            (&[9, 3, 7], Cols, Narrow),               // rows of 21 elements
            (&[1, 1, 40000], RowsVec4, NarrowVec4),   // one shared weight
        ];
        let mut wrong = Vec::new();
        for (shape, pass1, pass2) in table {
            let plan = plan(layout(shape), DEFAULT).unwrap();
            if (plan.pass1, plan.pass2) != (pass1, pass2) {
                wrong.push(format!("{shape:?}: {:?} {:?}", plan.pass1, plan.pass2));
            }
            assert_eq!(plan.slabs.len(), 1, "{shape:?}: partials fit one binding");
            // The chunks cover the tensor once, in order, each within a binding.
            let mut next = 0;
            for chunk in &plan.chunks {
                assert_eq!(chunk.first, next, "{shape:?}");
                assert!(chunk.elements <= DEFAULT.chunk, "{shape:?}");
                assert!(chunk.partials.1 <= plan.partials, "{shape:?}");
                next += chunk.elements;
            }
            assert_eq!(next, shape.iter().product::<u64>(), "{shape:?}");
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    /// The plan depends on the shape and the limits only: the same shape
    /// always gets the same plan.
    #[test]
    fn the_plan_is_a_function_of_shape_and_limits() {
        let a = plan(layout(&[16, 64, 28, 28]), DEFAULT).unwrap();
        let b = plan(layout(&[16, 64, 28, 28]), DEFAULT).unwrap();
        assert_eq!(a.chunks, b.chunks);
        assert_eq!(a.slabs, b.slabs);
    }
}
