//! RReLU, PyTorch's randomised leaky ReLU: in training each non-positive
//! element gets its own slope from [lower, upper), drawn by Philox-4×32-10
//! from (seed, stream, element index) — so the backward regenerates the
//! very slopes of the forward, and nothing is stored; in evaluation it is
//! Leaky ReLU with the mean slope. Its WGSL (`philox.wgsl`, `rrelu.wgsl`,
//! `kernels.wgsl`), parameter block, dispatch and CPU twin (`cpu.rs`).

pub(crate) mod cpu;

use crate::common::{ADD, EXACT, HALVES, INDEX, SIGN, WIDE};
use crate::engine::elementwise::{
    Elementwise, Geometry, Operands, BLOCKED, ELEMENTWISE, TENSORS, WORDS,
};
use crate::engine::{Engine, Module, Prepared};
use crate::error::{Error, Result};

/// Philox-4×32-10 as a binding-free WGSL function.
pub(crate) const PHILOX: &str = include_str!("philox.wgsl");
/// The activation's binding-free WGSL functions.
pub(crate) const WGSL: &str = include_str!("rrelu.wgsl");
const KERNELS: &str = include_str!("kernels.wgsl");

/// The module of RReLU's kernels: the element-wise template, its word
/// entries (f16 on CPU adapters) and the forward over blocks (for the
/// dead-unit statistics).
pub(crate) static MODULE: Module = Module {
    name: "wgpu_relu.rrelu",
    parts: &[
        SIGN,
        EXACT,
        ADD,
        INDEX,
        WIDE,
        HALVES,
        TENSORS,
        ELEMENTWISE,
        WORDS,
        BLOCKED,
        crate::relu::WGSL,
        PHILOX,
        WGSL,
        KERNELS,
    ],
};

/// `Params` in kernels.wgsl (64 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct Params {
    pub(crate) geometry: Geometry,
    pub(crate) key: [u32; 2],
    pub(crate) stream: [u32; 2],
    pub(crate) first: u32,
    /// f32 bits, so that blocks can be hashed.
    pub(crate) lower: u32,
    pub(crate) span: u32,
    pub(crate) top: u32,
}

/// What the slope conversion needs of the bounds: `lower`, `upper - lower`
/// and the largest float below `upper` (or `lower`, where they are equal),
/// after checking them.
pub(crate) struct Bounds {
    pub(crate) lower: f32,
    pub(crate) span: f32,
    pub(crate) top: f32,
}

impl Bounds {
    pub(crate) fn new(lower: f32, upper: f32) -> Result<Self> {
        let span = upper - lower;
        if !(lower.is_finite() && upper.is_finite() && lower <= upper && span.is_finite()) {
            return Err(Error::InvalidBounds { lower, upper });
        }
        let top = if lower == upper {
            lower
        } else {
            upper.next_down()
        };
        Ok(Bounds { lower, span, top })
    }

    /// The slope of the 24 random bits `bits >> 8`: `lower + u · span`,
    /// each operation rounded once, capped at `top`.
    pub(crate) fn slope(&self, bits: u32) -> f32 {
        const TWO_TO_MINUS_24: f32 = 1.0 / 16_777_216.0;
        let u = (bits >> 8) as f32 * TWO_TO_MINUS_24;
        (self.lower + u * self.span).min(self.top)
    }

    /// Evaluation's slope, as PyTorch computes it: `(lower + upper) / 2`
    /// in f64, then as f32.
    pub(crate) fn mean(lower: f32, upper: f32) -> f32 {
        ((f64::from(lower) + f64::from(upper)) / 2.0) as f32
    }
}

/// RReLU in training over `operands` (forward if `g` is `None`), with the
/// slopes of Philox keyed by `seed` on `stream`.
pub(crate) fn dispatches(
    engine: &Engine,
    operands: Operands<'_>,
    bounds: &Bounds,
    seed: u64,
    stream: u64,
) -> Result<Vec<Prepared>> {
    // f16 as u32 words on CPU adapters, as Leaky ReLU's (not over blocks:
    // the statistics keep vec4<f16>), where every tensor's offset is a
    // multiple of four elements: then the word kernels' vec4s, eight halves
    // from a multiple of eight in the dispatch, start on multiples of four
    // in the tensor, each on a Philox call of its own.
    let esize = operands.esize();
    let on_fours = [operands.x, Some(operands.y), operands.g]
        .into_iter()
        .flatten()
        .all(|o| (o.byte_offset / esize).is_multiple_of(4));
    let op = Elementwise {
        module: &MODULE,
        operands,
        extra: Vec::new(),
        vec4_constants: Vec::new(),
        words: engine.cpu_adapter() && !operands.blocked() && on_fours,
        cpu_item_step: 1,
        cpu_item_lines: 0,
    };
    let split = |v: u64| [v as u32, (v >> 32) as u32];
    engine.elementwise(&op, |geometry, start| {
        let params = Params {
            geometry,
            key: split(seed),
            stream: split(stream),
            first: start as u32,
            lower: bounds.lower.to_bits(),
            span: bounds.span.to_bits(),
            top: bounds.top.to_bits(),
        };
        bytemuck::bytes_of(&params).to_vec()
    })
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
                ("key", offset_of!(Params, key)),
                ("stream", offset_of!(Params, stream)),
                ("first", offset_of!(Params, first)),
                ("lower", offset_of!(Params, lower)),
                ("span", offset_of!(Params, span)),
                ("top", offset_of!(Params, top)),
            ],
            std::mem::size_of::<Params>(),
        );
    }

    /// Every slope lies in [lower, upper), the extreme bits included, and
    /// equal bounds give that bound.
    #[test]
    fn slopes_stay_in_the_half_open_interval() {
        for (lower, upper) in [
            (0.125f32, 1.0 / 3.0),
            (0.0, 1.0),
            (-1.0, -0.5),
            (1.0e-40, 2.0e-40),
            (0.3, 0.3f32.next_up()),
        ] {
            let b = Bounds::new(lower, upper).unwrap();
            for bits in [0, 0xff, 0x100, 0x8000_0000, u32::MAX - 0xff, u32::MAX] {
                let a = b.slope(bits);
                assert!(
                    lower <= a && a < upper,
                    "[{lower}, {upper}): {a} from {bits:#x}"
                );
            }
        }
        assert_eq!(Bounds::new(0.25, 0.25).unwrap().slope(u32::MAX), 0.25);
        for (lower, upper) in [
            (0.5, 0.25),
            (f32::NAN, 1.0),
            (0.0, f32::INFINITY),
            (-3.0e38, 3.0e38),
        ] {
            assert!(Bounds::new(lower, upper).is_err(), "[{lower}, {upper})");
        }
        assert_eq!(
            Bounds::mean(0.125, 1.0 / 3.0),
            ((0.125f64 + f64::from(1.0f32 / 3.0)) / 2.0) as f32
        );
    }
}
