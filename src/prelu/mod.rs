//! PReLU: `y = x > 0 ? x : w[c]·x`, `grad_x = x > 0 ? g : w[c]·g`, and the
//! weight gradient `Σ (x > 0 ? 0 : x·g)` per channel. Here: its WGSL
//! (`prelu.wgsl`, binding-free; `weights.wgsl`, the weight fetch;
//! `kernels.wgsl`, its side of the element-wise template; `weight_grad.wgsl`,
//! `sums.wgsl` and `reduce.wgsl`, the two passes of the weight gradient;
//! `quads.wgsl` and `quad_words.wgsl`, how the walks load their vec4s;
//! `prelu_halves.wgsl`, PReLU on f16 as words),
//! its parameter blocks, the weight gradient's pure planner (`plan.rs`, its
//! two walks in `walks.rs`), the walk's recording that the forward, the
//! input gradient and the weight gradient share (`placed.rs`), the weight
//! gradient's second pass (`weight_grad.rs`), and its CPU reference
//! (`cpu.rs`).

pub(crate) mod cpu;
pub(crate) mod placed;
pub(crate) mod plan;
pub(crate) mod slabs;
pub(crate) mod walks;
pub(crate) mod weight_grad;

use crate::common::{ADD, EXACT, HALVES, INDEX, SIGN};
use crate::element::Dtype;
use crate::engine::elementwise::{
    Elementwise, Geometry, Operands, BLOCKED, BLOCKED_WORDS, ELEMENTWISE, TENSORS,
};
use crate::engine::{Engine, Module, Operand, Prepared, WORKGROUP_SIZE};
use crate::error::Result;
use crate::shape::Channels;

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

/// `Params` in kernels.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct Params {
    pub(crate) geometry: Geometry,
    pub(crate) w_off: u32,
    pub(crate) channels: u32,
    pub(crate) inner: u32,
    pub(crate) phase: u32,
    pub(crate) inner_div: [u32; 2],
    pub(crate) channels_div: [u32; 2],
}

/// How PReLU's vec4 kernels fetch weights: the pipeline constants of the
/// same names in weights.wgsl.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Weights {
    /// The four elements of a vec4 share one channel.
    pub(crate) per_vec4: bool,
    /// Every item of an invocation has the weights of its first.
    pub(crate) repeat: bool,
    /// The weights do not repeat and runs are at least four elements long
    /// (or one, channels-last): the channel is stepped from item to item,
    /// not divided for, a vec4 taking at most two weights (or four
    /// consecutive ones).
    pub(crate) step: bool,
    /// Runs are at least the distance between an invocation's items long:
    /// a step crosses at most one run's end, and needs no division.
    pub(crate) runs_long: bool,
    /// Every element its own run (channels-last), at least three channels:
    /// a vec4's channels follow each other.
    pub(crate) runs_of_one: bool,
}

impl Weights {
    /// The cheapest fetch `channels` allows in a vec4 dispatch whose
    /// workgroups cover `span` elements each (chunks start on multiples of
    /// it), their invocations' items 4 · WG elements apart.
    pub(crate) fn for_layout(channels: &Channels, span: u64) -> Self {
        // One shared weight: every element has the same.
        let shared = channels.channels == 1;
        let inner = channels.inner as u64;
        let period = channels.channels as u64 * inner;
        let item_stride = 4 * u64::from(WORKGROUP_SIZE);
        let repeat = shared || inner.is_multiple_of(span) || item_stride.is_multiple_of(period);
        let per_vec4 = shared || inner.is_multiple_of(4);
        let runs_long = inner >= item_stride;
        let runs_of_one = inner == 1 && channels.channels >= 3;
        Self {
            per_vec4,
            repeat,
            // With one weight per vec4 and short runs, stepping divides as
            // often as finding each vec4's weight does: nothing to gain.
            step: !repeat && ((inner >= 4 && (runs_long || !per_vec4)) || runs_of_one),
            runs_long,
            runs_of_one,
        }
    }

    /// As pipeline constants.
    pub(crate) fn constants(self) -> Vec<(&'static str, f64)> {
        let mut constants = Vec::new();
        if self.per_vec4 {
            constants.push(("WEIGHT_PER_VEC4", 1.0));
        }
        if self.repeat {
            constants.push(("WEIGHTS_REPEAT", 1.0));
        }
        if self.step {
            constants.push(("WEIGHTS_STEP", 1.0));
            if self.runs_long {
                constants.push(("RUNS_LONG", 1.0));
            }
            if self.runs_of_one {
                constants.push(("RUNS_OF_ONE", 1.0));
            }
        }
        constants
    }
}

/// The kernel of PReLU's forward, or its input gradient alone, where it
/// writes no mask and gathers no statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plain {
    /// The walk of the weight gradient's plan, each vec4 placed by the
    /// shape (`placed.rs`): every PReLU kernel then reads the tensor in
    /// the same places, and on lavapipe with four vec4s an invocation it
    /// beat the element-wise kernel at every layout.
    Walk,
    /// The element-wise kernel (`kernels.wgsl`): on a CPU adapter where
    /// the weights repeat (runs of whole workgroup spans, channels-last
    /// with a count that divides 1,024, one shared weight), f32. With
    /// eight vec4s an invocation (`elementwise::items`) it loads one
    /// weight per eight vec4s, neighbouring invocations on neighbouring
    /// vec4s, where the walk loads one per four to seven vec4s, each
    /// invocation's side by side: on lavapipe at 16M, channels-last 64's
    /// forward 1.45 → 1.26 × the 2-stream floor and its input gradient
    /// 1.29 → 1.17 × the 3-stream floor, `[1, 64, n/64]`'s forward
    /// 1.36 → 1.08–1.18 (BENCHMARKS.md). The f16 kernels stay with the
    /// walk, which takes halves as words on CPU adapters, and so do
    /// operands off a multiple of four elements, which the element-wise
    /// template takes one element at a time, each with its own weight.
    Elementwise,
}

/// What the element-wise kernel would load the tensors as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Vec4s {
    pub(crate) dtype: Dtype,
    /// Every operand on a multiple of four elements in its binding.
    pub(crate) aligned: bool,
}

/// The plain kernel for weights fetched as `weights`: a pure function,
/// pinned by a unit test for every layout class.
pub(crate) fn plain_kernel(weights: Weights, vec4s: Vec4s, cpu_adapter: bool) -> Plain {
    match cpu_adapter && weights.repeat && vec4s.dtype == Dtype::F32 && vec4s.aligned {
        true => Plain::Elementwise,
        false => Plain::Walk,
    }
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
    let weights = Weights::for_layout(channels, operands.workgroup_span(cpu_adapter));
    let plain = operands.mask.is_none() && operands.watch.is_none();
    let tensors = [operands.x, operands.g, Some(operands.y)];
    let mut aligned = true;
    for operand in tensors.into_iter().flatten() {
        aligned &= engine
            .bind(operand, operands.esize(), 0, 1)?
            .elem_off
            .is_multiple_of(4);
    }
    let vec4s = Vec4s {
        dtype: operands.dtype,
        aligned,
    };
    if plain && plain_kernel(weights, vec4s, cpu_adapter) == Plain::Walk {
        if let Some(dispatches) = placed::dispatches(engine, operands, w, channels)? {
            return Ok(dispatches);
        }
    }
    let bw = engine.bind(w, operands.esize(), 0, channels.channels as u64)?;
    let period = (channels.channels * channels.inner) as u64;
    let w_off = bw.elem_off;
    let op = Elementwise {
        module: &MODULE,
        operands,
        extra: vec![(W1, bw)],
        vec4_constants: weights.constants(),
        // f16 as words where the forward runs over blocks on a CPU adapter
        // (its conversions in bit arithmetic; BENCHMARKS.md).
        words: engine.cpu_adapter() && operands.g.is_none() && operands.blocked(),
    };
    engine.elementwise(&op, |geometry, start| {
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::elementwise::MASK_BLOCK;
    use crate::engine::kernel::vec4_span;
    use std::mem::offset_of;

    /// The weight fetch each layout class gets: (per vec4, repeat, step).
    #[test]
    fn weight_fetch_per_layout_class() {
        let fetch = |shape: &[usize], weights: usize, axis: usize| {
            let len = shape.iter().product();
            let channels = Channels::new(shape, len, weights, axis).unwrap();
            let w = Weights::for_layout(&channels, vec4_span(false));
            (w.per_vec4, w.repeat, w.step)
        };
        // Shape, weights, channel axis, and the fetch expected.
        type Case<'a> = (&'a [usize], usize, usize, (bool, bool, bool));
        let cases: [Case; 10] = [
            (&[8, 64, 100], 1, 1, (true, true, false)), // one shared weight
            (&[1, 64, 262_144], 64, 1, (true, true, false)), // runs of whole spans
            (&[80, 64, 56, 56], 64, 1, (true, false, true)), // runs >= a step, of fours
            (&[50, 37, 99, 91], 37, 1, (false, false, true)), // runs >= a step, odd
            (&[80, 256, 28, 28], 256, 1, (true, false, false)), // runs < a step, of fours
            (&[640, 512, 7, 7], 512, 1, (false, false, true)), // runs of 49: stepped, dividing
            (&[262_144, 64], 64, 1, (false, true, false)), // channels-last, 64 | 1024
            (&[111, 224, 224, 3], 3, 3, (false, false, true)), // channels-last, 3: runs of one
            (&[50, 99, 91, 37], 37, 3, (false, false, true)), // channels-last, 37
            (&[16_384, 1024], 1024, 1, (false, true, false)), // a dense layer
        ];
        for (shape, weights, axis, expected) in cases {
            assert_eq!(fetch(shape, weights, axis), expected, "{shape:?}");
        }
        // Over the blocks of the mask layout (the forward with statistics)
        // a workgroup spans a block: runs of whole blocks repeat, runs of
        // an odd number of vec4 spans no longer do.
        let blocked = |inner: usize| {
            let channels = Channels::new(&[2, 8, inner], 16 * inner, 8, 1).unwrap();
            Weights::for_layout(&channels, MASK_BLOCK).repeat
        };
        assert!(blocked(4 * 8192));
        assert!(!blocked(3 * 4096));
    }

    /// The plain forward's kernel for each layout class: on a CPU adapter
    /// the element-wise kernel where its weights repeat over a workgroup's
    /// eight vec4s an invocation (f32, operands on multiples of four),
    /// else the walk; on a GPU always the walk.
    #[test]
    fn plain_kernel_per_layout_class() {
        use Plain::{Elementwise, Walk};
        let kernel = |shape: &[usize], axis: usize, dtype: Dtype, aligned: bool, cpu: bool| {
            let len = shape.iter().product();
            let channels = Channels::new(shape, len, shape[axis], axis).unwrap();
            let weights = Weights::for_layout(&channels, vec4_span(cpu));
            plain_kernel(weights, Vec4s { dtype, aligned }, cpu)
        };
        // Shape, channel axis, and the kernel on a CPU adapter for f32.
        let cases: [(&[usize], usize, Plain); 11] = [
            (&[1, 64, 262_144], 1, Elementwise), // runs of whole spans
            (&[2, 3, 8192], 1, Elementwise),     // runs of one span
            (&[2, 3, 4096], 1, Walk),            // runs of half a span
            (&[262_144, 64], 1, Elementwise),    // channels-last, 64 | 1024
            (&[16_384, 1024], 1, Elementwise),   // a dense layer
            (&[4, 32, 32, 4096], 3, Walk),       // channels-last, 4,096
            (&[111, 224, 224, 3], 3, Walk),      // channels-last, 3
            (&[80, 64, 56, 56], 1, Walk),        // batched NCHW
            (&[640, 512, 7, 7], 1, Walk),        // short runs
            (&[50, 37, 99, 91], 1, Walk),        // odd runs
            (&[8, 1, 100], 1, Elementwise),      // one channel
        ];
        for (shape, axis, expected) in cases {
            let (f32, f16) = (Dtype::F32, Dtype::F16);
            assert_eq!(kernel(shape, axis, f32, true, true), expected, "{shape:?}");
            assert_eq!(kernel(shape, axis, f16, true, true), Walk, "f16 {shape:?}");
            assert_eq!(kernel(shape, axis, f32, false, true), Walk, "off {shape:?}");
            assert_eq!(kernel(shape, axis, f32, true, false), Walk, "GPU {shape:?}");
        }
    }

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
