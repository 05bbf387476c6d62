//! PReLU: `y = x > 0 ? x : w[c]·x`, `grad_x = x > 0 ? g : w[c]·g`, and the
//! weight gradient `Σ (x > 0 ? 0 : x·g)` per channel. Here: its WGSL
//! (`prelu.wgsl`, binding-free; `weights.wgsl`, the weight fetch;
//! `kernels.wgsl`, its side of the element-wise template; `weight_grad.wgsl`,
//! `sums.wgsl` and `reduce.wgsl`, the two passes of the weight gradient;
//! `quads.wgsl` and `quad_words.wgsl`, how the walks load their vec4s;
//! `prelu_halves.wgsl`, PReLU on f16 as words),
//! its parameter blocks, the element-wise kernels' weight fetch and the
//! plain ops' choice of kernel (`weights.rs`, pure), the weight gradient's
//! pure planner (`plan.rs`, its two walks in `walks.rs`), the walk's
//! recording that the forward, the
//! input gradient and the weight gradient share (`placed.rs`; where it
//! finds its weights, `lane_weights.rs`, pure), the weight
//! gradient's second pass (`weight_grad.rs`), and its CPU reference
//! (`cpu.rs`).

pub(crate) mod cpu;
mod lane_weights;
pub(crate) mod placed;
pub(crate) mod plan;
pub(crate) mod slabs;
pub(crate) mod walks;
pub(crate) mod weight_grad;
pub(crate) mod weights;

use crate::common::{ADD, EXACT, HALVES, INDEX, SIGN};
use crate::element::Dtype;
use crate::engine::elementwise::{
    Elementwise, Geometry, Operands, BLOCKED, BLOCKED_WORDS, ELEMENTWISE, TENSORS,
};
use crate::engine::kernel::CPU_ITEM_LINES;
use crate::engine::{Bound, Engine, KernelSpec, Module, Operand, Prepared, TABLE, WORKGROUP_SIZE};
use crate::error::Result;
use crate::shape::Channels;

pub(crate) use weights::Weights;
use weights::{plain_kernel, Plain, Vec4s};

/// The activation's binding-free WGSL functions.
pub(crate) const WGSL: &str = include_str!("prelu.wgsl");
/// How the kernels find an element's weight.
const WEIGHTS: &str = include_str!("weights.wgsl");
/// PReLU on f16 as u32 words, binding-free.
const PRELU_HALVES: &str = include_str!("prelu_halves.wgsl");
/// Its side of the element-wise template.
const KERNELS: &str = include_str!("kernels.wgsl");

/// The module of PReLU's element-wise kernels. Its f16 words are only the
/// blocked forward's (with statistics, on CPU adapters): the plain ops run
/// the walks of `placed.rs`, which take f16 as words on CPU adapters
/// themselves (`weight_grad::WORDS_MODULE`).
pub(crate) static MODULE: Module = Module {
    name: "wgpu_relu.prelu",
    parts: &[
        SIGN,
        EXACT,
        ADD,
        INDEX,
        HALVES,
        TENSORS,
        ELEMENTWISE,
        BLOCKED,
        BLOCKED_WORDS,
        WGSL,
        WEIGHTS,
        PRELU_HALVES,
        KERNELS,
    ],
};

/// The binding of the weight, in both modules.
pub(crate) const W1: u32 = 7;
/// The engine's table as storage, which `weights_to_table` writes (the
/// kernels that read it bind it as `TABLE`).
const TABLE_OUT: u32 = 22;
/// The weight seen as vec4s, in both modules: the element-wise kernels'
/// `WEIGHTS_VEC4`, or a row of lane weights for `weight_grad_columns_w4`
/// (written by `weight_grad_lane_weights`).
pub(crate) const W4: u32 = 19;

/// `Params` in kernels.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct Params {
    pub(crate) geometry: Geometry,
    pub(crate) w_off: u32,
    pub(crate) channels: u32,
    pub(crate) inner: u32,
    pub(crate) phase: u32,
    pub(crate) inner_div: [u32; 2],
    pub(crate) channels_div: [u32; 2],
}

/// Checks that the weight fits one binding: it is bound whole.
pub(crate) fn check_weight_size(engine: &Engine, weight_bytes: u64) -> Result<()> {
    engine.check_bound_whole(
        "the PReLU weight (bytes)",
        weight_bytes,
        "the weight is bound whole and must fit one storage binding \
         (max_storage_buffer_binding_size); use fewer channels",
    )
}

/// PReLU forward (`operands.g` is `None`) or its input gradient alone, with
/// the weight `w` laid out by `channels`.
pub(crate) fn dispatches(
    engine: &Engine,
    operands: Operands<'_>,
    w: Operand<'_>,
    channels: &Channels,
) -> Result<Vec<Prepared>> {
    let cpu_adapter = engine.cpu_adapter();
    let mut weights = Weights::for_layout(channels, operands.workgroup_span(cpu_adapter));
    if operands.mask.is_none() && operands.watch.is_none() {
        let vec4s = Vec4s {
            dtype: operands.dtype,
            aligned: operands.on_vec4s(engine)?,
        };
        let gradient = operands.g.is_some();
        let plain = |weights| plain_kernel(weights, vec4s, cpu_adapter, gradient);
        match Weights::table(channels).filter(|&t| plain(t) == Plain::Elementwise) {
            Some(table) => weights = table,
            None if plain(weights) == Plain::Walk => {
                if let Some(dispatches) = placed::dispatches(engine, operands, w, channels)? {
                    return Ok(dispatches);
                }
            }
            None => {}
        }
    }
    let bw = engine.bind(w, operands.esize(), 0, channels.channels as u64)?;
    let weights = weights
        .with_vec4_load(channels, bw.elem_off, operands.dtype)
        .with_table_loads(channels, cpu_adapter);
    // The weight seen as vec4s, or a stand-in nothing reads.
    let scratch = engine.scratch(16);
    let w4 = match weights.vec4_load {
        true => Bound { ..bw },
        false => Bound {
            buffer: &scratch,
            offset: 0,
            size: 16,
            elem_off: 0,
        },
    };
    // Every element-wise kernel of the module binds the table (its forward
    // reads it where WEIGHTS_TABLE is set, every weight load where
    // TABLE_LOADS is); only those read it, after `weights_to_table` has
    // written it.
    let table = engine.table();
    let table_bound = Bound::whole(&table);
    let c = channels.channels;
    let period = (c * channels.inner) as u64;
    let w_off = bw.elem_off;
    let mut dispatches = Vec::new();
    if weights.table || weights.table_loads {
        let copy = weights_to_table(engine, operands.dtype, &bw, &table_bound, c)?;
        dispatches.extend(copy);
    }
    let op = Elementwise {
        module: &MODULE,
        operands,
        extra: vec![(W1, bw), (W4, w4), (TABLE, table_bound)],
        vec4_constants: weights.constants(),
        // f16 as words where the forward runs over blocks on a CPU adapter
        // (its conversions in bit arithmetic; BENCHMARKS.md).
        words: engine.cpu_adapter() && operands.g.is_none() && operands.blocked(),
        // As close as REPEAT allows: side by side where a workgroup's span
        // lies in one run, channels-last a period apart where that is
        // close (`Weights::item_step`).
        cpu_item_step: weights.item_step,
        cpu_item_lines: if weights.table { CPU_ITEM_LINES } else { 0 },
    };
    dispatches.extend(engine.elementwise(&op, |geometry, start| {
        let params = Params {
            geometry,
            w_off,
            channels: channels.channels as u32,
            inner: channels.inner as u32,
            phase: (start % period) as u32,
            inner_div: crate::divisor::pack(channels.inner as u32),
            channels_div: crate::divisor::pack(channels.channels as u32),
        };
        bytemuck::bytes_of(&params).to_vec()
    })?);
    Ok(dispatches)
}

/// The dispatch that copies the weight `bw`'s `channels` weights, as f32,
/// into the engine's first `channels` table entries, for the kernels that
/// read it: the element-wise forward (`Weights::table`) and the runs walk
/// (`placed.rs`); none for no channel.
pub(crate) fn weights_to_table(
    engine: &Engine,
    dtype: Dtype,
    bw: &Bound<'_>,
    table: &Bound<'_>,
    channels: usize,
) -> Result<Option<Prepared>> {
    let spec = KernelSpec {
        module: &MODULE,
        entry: "weights_to_table",
        bindings: vec![W1, TABLE_OUT],
        constants: Vec::new(),
    };
    let kernel = engine.kernel(&spec, dtype)?;
    let groups = (channels as u64).div_ceil(u64::from(WORKGROUP_SIZE));
    let Some(grid) = engine.grid(groups)? else {
        return Ok(None);
    };
    let params = Params {
        geometry: Geometry {
            groups_x: grid.x,
            groups_y: grid.y,
            ..Geometry::default()
        },
        w_off: bw.elem_off,
        channels: channels as u32,
        ..Params::default()
    };
    engine
        .prepare(
            &kernel,
            bytemuck::bytes_of(&params),
            grid,
            &[(W1, bw), (TABLE_OUT, table)],
        )
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    #[test]
    fn params_layout_matches_wgsl() {
        crate::engine::kernel::assert_layout(
            &MODULE,
            "Params",
            &[
                ("geometry", offset_of!(Params, geometry)),
                ("w_off", offset_of!(Params, w_off)),
                ("channels", offset_of!(Params, channels)),
                ("inner", offset_of!(Params, inner)),
                ("phase", offset_of!(Params, phase)),
                ("inner_div", offset_of!(Params, inner_div)),
                ("channels_div", offset_of!(Params, channels_div)),
            ],
            std::mem::size_of::<Params>(),
        );
    }
}
