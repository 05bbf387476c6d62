//! Pass 1 of the weight gradient's plan as every PReLU kernel's walk: the
//! weight gradient's pass 1 (`weight_grad_runs` or `weight_grad_columns`
//! with their sums), the input gradient alone and the forward (the same
//! kernels without them). Each vec4 of the tensor has its place from the
//! shape, and one invocation reads and writes it, so in place is exact.

use crate::element::Dtype;
use crate::engine::elementwise::{Operands, G1, G4, X1, X4, Y1, Y4};
use crate::engine::{Bound, Engine, KernelSpec, Operand, Prepared, TABLE, WORKGROUP_SIZE};
use crate::error::Result;
use crate::shape::Channels;

use super::lane_weights::LaneWeights;
use super::plan::{self, Layout, Limits, Pass1, Plan};
use super::walks;
use super::weight_grad::{Params, MODULE, PARTIALS, PARTIALS4, WORDS_MODULE};
use super::{weights_to_table, W1, W4};

/// A PReLU op's tensors bound for the plan of its shape.
pub(crate) struct Placed<'a> {
    pub(crate) plan: Plan,
    operands: Operands<'a>,
    x: Operand<'a>,
    /// The output's gradient; the forward reads x in its place.
    g: Operand<'a>,
    bw: Bound<'a>,
    /// Where the columns walk finds its lanes' weights.
    lane_weights: LaneWeights,
    /// The weight gradient's walk, leaving its partials; else the forward
    /// or the input gradient alone.
    sums: bool,
    /// Every operand on a multiple of four elements: vec4s load as vec4s.
    aligned: bool,
    /// f16 as u32 words (`WORDS_MODULE`): on CPU adapters, where aligned.
    words: bool,
    /// The parameters every dispatch shares.
    pub(crate) common: Params,
}

impl<'a> Placed<'a> {
    /// The plan for `operands` (a forward where `g` is `None`) with the
    /// weight `w` laid out by `channels` (at least one), and its bindings
    /// checked: the weight gradient's where it `sums`, else the walk of
    /// the forward or the input gradient alone.
    pub(crate) fn new(
        engine: &Engine,
        operands: Operands<'a>,
        w: Operand<'a>,
        channels: &Channels,
        sums: bool,
    ) -> Result<Self> {
        let (len, esize) = (operands.len, operands.esize());
        let x = operands.values("PReLU")?;
        let g = operands.g.unwrap_or(x);
        for operand in [x, g, operands.y] {
            engine.bind(operand, esize, 0, len)?;
        }
        let (c, inner) = (channels.channels as u64, channels.inner as u64);
        let layout = Layout {
            outer: len.checked_div(c * inner).unwrap_or(0),
            channels: c,
            inner,
        };
        let limits = Limits {
            chunk: engine.chunk_elements(esize),
            binding: engine.binding_limit(),
            align: engine.offset_alignment(),
        };
        let plan = match sums {
            true => plan::plan(layout, limits)?,
            false => plan::plan_alone(layout, limits)?,
        };
        let bw = engine.bind(w, esize, 0, c)?;
        let aligned = operands.on_vec4s(engine)?;
        // On a CPU the f16 views' 16-bit lanes and the rasteriser's f16
        // conversions cost more than the words' bit arithmetic; on GPUs
        // the hardware converts and the f16 views are memory-bound.
        let words = operands.dtype == Dtype::F16 && engine.cpu_adapter() && aligned;
        // One shared weight is one run: the plan's runs are what the
        // kernels see.
        let inner = plan.inner;
        let lane_weights = LaneWeights::choose(&plan, c, bw.elem_off, engine.cpu_adapter());
        let period = c * inner;
        let common = Params {
            w_off: bw.elem_off,
            channels: c as u32,
            inner: inner as u32,
            total: len as u32,
            per_run: plan.per_run as u32,
            slots: plan.slots as u32,
            period: period as u32,
            row: plan.row as u32,
            row_groups: plan.row_groups as u32,
            inner_div: crate::divisor::pack(inner as u32),
            channels_div: crate::divisor::pack(c as u32),
            per_run_div: crate::divisor::pack(plan.per_run as u32),
            period_div: crate::divisor::pack(period as u32),
            row_groups_div: crate::divisor::pack(plan.row_groups as u32),
            ..Params::default()
        };
        Ok(Self {
            plan,
            operands,
            x,
            g,
            bw,
            lane_weights,
            sums,
            aligned,
            words,
            common,
        })
    }

    /// The kernel of the walk: with the weight gradient's partials
    /// (`sums`), or the forward or input gradient alone; with a barrier
    /// after each of the columns walk's rows, or every few
    /// (`Plan::barrier_rows`), on a software rasteriser (`cpu_adapter`),
    /// which schedules it that many rows at a time; with one index
    /// for the three tensors where they lie at one offset in their
    /// bindings in every chunk (`same_offsets`); with the code for the
    /// tensor's partial last vec4 only in the kernel of its item (`tail`).
    fn spec(&self, cpu_adapter: bool, same_offsets: bool, tail: bool) -> KernelSpec {
        let plan = &self.plan;
        let (entry, partials, mut constants) = match plan.pass1 {
            Pass1::Runs => (
                "weight_grad_runs",
                PARTIALS,
                vec![("ITEMS", plan.items as f64)],
            ),
            Pass1::Columns => {
                let rows = ("ROWS", plan.rows as f64);
                match self.lane_weights {
                    LaneWeights::Direct => ("weight_grad_columns_w4", PARTIALS4, vec![rows]),
                    LaneWeights::Row => (
                        "weight_grad_columns_w4",
                        PARTIALS4,
                        vec![rows, ("ROW_WEIGHTS", 1.0)],
                    ),
                    // (The table is the runs walk's only.)
                    LaneWeights::InWalk | LaneWeights::Table => {
                        ("weight_grad_columns", PARTIALS4, vec![rows])
                    }
                }
            }
        };
        let row_barrier = plan.pass1 == Pass1::Columns && cpu_adapter;
        let barrier_rows = plan.barrier_rows();
        let flags = [
            (row_barrier, "ROW_BARRIER", 1.0),
            (
                row_barrier && barrier_rows != 1,
                "BARRIER_ROWS",
                barrier_rows as f64,
            ),
            (!self.sums, "SUMS", 0.0),
            (self.operands.g.is_none(), "FORWARD", 1.0),
            (
                plan.pass1 == Pass1::Runs && walks::ragged(plan.inner, self.operands.len),
                "RAGGED",
                1.0,
            ),
            (tail, "TAIL", 1.0),
            (!self.aligned, "ALIGNED", 0.0),
            (same_offsets, "SAME_OFFSETS", 1.0),
            (self.operands.accumulate, "ACCUMULATE", 1.0),
            (self.lane_weights == LaneWeights::Table, "TABLE_LOADS", 1.0),
        ];
        constants.extend(
            flags
                .into_iter()
                .filter(|f| f.0)
                .map(|(_, name, value)| (name, value)),
        );
        let columns = plan.columns_each(cpu_adapter);
        // (`weight_grad_columns` takes one column: its rows are wider
        // than a workgroup.)
        debug_assert!(columns == 1 || self.lane_weights != LaneWeights::InWalk);
        if columns != 1 {
            constants.push(("COLUMNS", columns as f64));
        }
        let workgroup = plan.workgroup(cpu_adapter);
        if workgroup != u64::from(WORKGROUP_SIZE) {
            constants.push(("WG", workgroup as f64));
        }
        KernelSpec {
            module: if self.words { &WORDS_MODULE } else { &MODULE },
            entry,
            // Eight storage buffers, the most a kernel may bind by default;
            // the runs walk's table is a uniform.
            bindings: match self.lane_weights {
                _ if plan.pass1 == Pass1::Runs => {
                    vec![X4, G4, Y4, X1, G1, Y1, partials, W1, TABLE]
                }
                LaneWeights::InWalk => vec![X4, G4, Y4, X1, G1, Y1, partials, W1],
                _ => vec![X4, G4, Y4, X1, G1, Y1, partials, W4],
            },
            constants,
        }
    }

    /// The bytes of scratch the row of lane weights takes (0: none).
    pub(crate) fn row_bytes(&self) -> u64 {
        match self.lane_weights {
            LaneWeights::Row => 4 * self.plan.row * self.operands.esize(),
            _ => 0,
        }
    }

    /// The dispatch that writes the row of lane weights into `row`.
    fn lane_weights(&self, engine: &Engine, row: &Bound<'_>) -> Result<Option<Prepared>> {
        let spec = KernelSpec {
            module: &MODULE,
            entry: "weight_grad_lane_weights",
            bindings: vec![W1, W4],
            constants: Vec::new(),
        };
        let kernel = engine.kernel(&spec, self.operands.dtype)?;
        let columns = self.plan.row;
        let Some(grid) = engine.grid(columns.div_ceil(u64::from(WORKGROUP_SIZE)))? else {
            return Ok(None);
        };
        let params = Params {
            len: columns as u32,
            groups_x: grid.x,
            groups_y: grid.y,
            y_off: row.elem_off,
            ..self.common
        };
        let bound = [(W1, &self.bw), (W4, row)];
        engine
            .prepare(&kernel, bytemuck::bytes_of(&params), grid, &bound)
            .map(Some)
    }

    /// The walk's dispatches, chunk by chunk, after the row of lane weights
    /// where it reads one (into `row`, `row_bytes` of scratch) or the copy
    /// into the engine's table where it reads that; with the
    /// sums, leaving the weight gradient's partials in `partials`. `scratch` (16
    /// bytes or more) stands in for the bindings a dispatch does not read:
    /// the partials of a walk without sums, the vec4 views of a tensor too
    /// short for one vec4 (it goes through the scalar views only).
    pub(crate) fn pass1(
        &self,
        engine: &Engine,
        partials: Operand<'_>,
        row: Operand<'_>,
        scratch: &wgpu::Buffer,
    ) -> Result<Vec<Prepared>> {
        let esize = self.operands.esize();
        let mut chunks = Vec::with_capacity(self.plan.chunks.len());
        for chunk in &self.plan.chunks {
            let bind = |operand| engine.bind(operand, esize, chunk.first, chunk.elements);
            chunks.push((
                chunk,
                [bind(self.x)?, bind(self.g)?, bind(self.operands.y)?],
            ));
        }
        let same_offsets = chunks
            .iter()
            .all(|(_, [bx, bg, by])| bx.elem_off == bg.elem_off && bg.elem_off == by.elem_off);
        let kernel = |tail| {
            let spec = self.spec(engine.cpu_adapter(), same_offsets, tail);
            engine.kernel(&spec, self.operands.dtype)
        };
        // The item that holds the tensor's partial last vec4 is dispatched
        // alone, with the tail's code (`Plan::pieces`).
        let walk = kernel(false)?;
        let tail_walk = match self.plan.tail_item(self.operands.len) {
            Some(_) => kernel(true)?,
            None => walk.clone(),
        };
        let stand_in = Bound {
            buffer: scratch,
            offset: 0,
            size: 16,
            elem_off: 0,
        };
        let mut dispatches = Vec::new();
        let row_bound = match self.lane_weights {
            LaneWeights::Row => Some(engine.bind(row, esize, 0, 4 * self.plan.row)?),
            _ => None,
        };
        let w4 = row_bound.as_ref().unwrap_or(&self.bw);
        let w_off = match &row_bound {
            Some(bound) => {
                dispatches.extend(self.lane_weights(engine, bound)?);
                bound.elem_off
            }
            None => self.common.w_off,
        };
        // The runs walk binds the table whether it reads it or not.
        let table = match self.plan.pass1 {
            Pass1::Runs => Some(engine.table()),
            Pass1::Columns => None,
        };
        let table_bound = table.as_ref().map(Bound::whole);
        if self.lane_weights == LaneWeights::Table {
            let (dtype, channels) = (self.operands.dtype, self.common.channels as usize);
            let table = table_bound.as_ref().expect("the runs walk binds the table");
            let copy = weights_to_table(engine, dtype, &self.bw, table, channels)?;
            dispatches.extend(copy);
        }
        for (chunk, [bx, bg, by]) in chunks {
            let (p0, p1) = chunk.partials;
            let bp = match self.sums {
                true => engine.bind(partials, 4, p0, p1 - p0)?,
                false => engine.bind(partials, 4, 0, 4)?,
            };
            let whole = bx.size >= 16 && bg.size >= 16 && by.size >= 16;
            let [bx4, bg4, by4] = match whole {
                true => [&bx, &bg, &by],
                false => [&stand_in; 3],
            };
            let mut bound = vec![
                (W4, w4),
                (X1, &bx),
                (G1, &bg),
                (Y1, &by),
                (X4, bx4),
                (G4, bg4),
                (Y4, by4),
                (W1, &self.bw),
                (PARTIALS, &bp),
                (PARTIALS4, &bp),
            ];
            bound.extend(table_bound.as_ref().map(|table| (TABLE, table)));
            for piece in self.plan.pieces(chunk, self.operands.len) {
                let Some(grid) = engine.grid(piece.workgroups)? else {
                    continue;
                };
                let params = Params {
                    len: piece.items as u32,
                    groups_x: grid.x,
                    groups_y: grid.y,
                    x_off: bx.elem_off,
                    g_off: bg.elem_off,
                    y_off: by.elem_off,
                    first: chunk.first as u32,
                    base: piece.base as u32,
                    // Global partial p is at p - p_shift in the binding.
                    p_shift: (p0 as u32).wrapping_sub(bp.elem_off),
                    w_off,
                    ..self.common
                };
                let kernel = if piece.tail { &tail_walk } else { &walk };
                let params = bytemuck::bytes_of(&params);
                dispatches.push(engine.prepare(kernel, params, grid, &bound)?);
            }
        }
        Ok(dispatches)
    }
}

/// PReLU's forward (`operands.g` is `None`) or input gradient alone over
/// the weight gradient's walk; `None` where its plan has none for the shape
/// (the element-wise kernels then take it).
pub(crate) fn dispatches(
    engine: &Engine,
    operands: Operands<'_>,
    w: Operand<'_>,
    channels: &Channels,
) -> Result<Option<Vec<Prepared>>> {
    if channels.channels == 0 {
        return Ok(Some(Vec::new()));
    }
    let Ok(placed) = Placed::new(engine, operands, w, channels, false) else {
        return Ok(None);
    };
    // The stand-ins first, then the row of lane weights where there is one.
    let row_at = engine.offset_alignment();
    let scratch = engine.scratch(row_at + placed.row_bytes());
    let stand_in = Operand {
        buffer: &scratch,
        byte_offset: 0,
        name: "a binding the walk does not read",
    };
    let row = Operand {
        buffer: &scratch,
        byte_offset: row_at,
        name: "the row of lane weights",
    };
    placed.pass1(engine, stand_in, row, &scratch).map(Some)
}

#[cfg(test)]
mod tests;
