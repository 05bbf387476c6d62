//! The tensors of an element-wise op, and what follows from them alone:
//! the entry points it runs, the span of its workgroups, whether its
//! tensors lie on vec4s.

use crate::element::Dtype;
use crate::error::{Error, Result};

use super::bind::Operand;
use super::dispatch::Prepared;
use super::elementwise::MASK_BLOCK;
use super::entries::Entries;
use super::kernel::vec4_span;
use super::Engine;

/// The tensors of an element-wise op, all of `len` elements of `dtype`.
#[derive(Clone, Copy)]
pub(crate) struct Operands<'a> {
    pub(crate) dtype: Dtype,
    pub(crate) len: u64,
    /// The forward's input; for a backward, the values whose sign decides
    /// (x, or y for a backward from the output); `None` for a backward from
    /// a mask.
    pub(crate) x: Option<Operand<'a>>,
    /// The output's gradient, for a backward.
    pub(crate) g: Option<Operand<'a>>,
    /// The output: y, or grad_x.
    pub(crate) y: Operand<'a>,
    /// The mask a forward writes beside y, or the one a backward reads
    /// instead of x (u32 words in the layout src/mask.rs documents).
    pub(crate) mask: Option<Operand<'a>>,
    /// Whether a backward adds to the output instead of overwriting it.
    pub(crate) accumulate: bool,
    /// The dead-unit statistics a forward gathers on the way.
    pub(crate) watch: Option<Watch<'a>>,
}

/// How a forward's activity bits are counted: each chunk's forward writes
/// them (one per element, x > 0, in the mask layout) into a scratch of the
/// engine's, and `count(bits, start, len)` gives the dispatches that add up
/// the bits of the chunk of `len` elements starting at element `start`,
/// recorded right after the chunk's forward.
#[derive(Clone, Copy)]
pub(crate) struct Watch<'a> {
    pub(crate) count: &'a CountBits<'a>,
}

/// `count(bits, start, len)` of [`Watch`].
pub(crate) type CountBits<'a> = dyn Fn(&wgpu::Buffer, u64, u64) -> Result<Vec<Prepared>> + 'a;

impl<'a> Operands<'a> {
    /// Bytes per element.
    pub(crate) fn esize(&self) -> u64 {
        self.dtype.size()
    }

    /// The values a family without a mask path reads: an error, never a
    /// panic, if a caller let a mask through.
    pub(crate) fn values(&self, family: &str) -> Result<Operand<'a>> {
        self.x.ok_or_else(|| {
            Error::NeedsInput(format!("{family}'s backward cannot go back from a mask"))
        })
    }

    /// Elements one workgroup of the op's vec4 kernel covers: a block of
    /// the mask layout where it reads or writes one (or activity bits),
    /// else [`vec4_span`]. Chunks start on multiples of it.
    pub(crate) fn workgroup_span(&self, cpu_adapter: bool) -> u64 {
        match self.blocked() {
            true => MASK_BLOCK,
            false => vec4_span(cpu_adapter),
        }
    }

    /// Whether every tensor operand (x, g, y) lies on a multiple of four
    /// elements of its binding, so that its vec4s load as vec4s.
    pub(crate) fn on_vec4s(&self, engine: &Engine) -> Result<bool> {
        let mut aligned = true;
        for operand in [self.x, self.g, Some(self.y)].into_iter().flatten() {
            let bound = engine.bind(operand, self.esize(), 0, 1)?;
            aligned &= bound.elem_off.is_multiple_of(4);
        }
        Ok(aligned)
    }

    /// Whether the op runs over the blocks of the mask layout: it reads or
    /// writes a mask, or writes activity bits.
    pub(crate) fn blocked(&self) -> bool {
        self.entries().blocked
    }

    pub(super) fn entries(&self) -> Entries {
        Entries::of(self.g.is_none(), self.mask.is_some(), self.watch.is_some())
    }

    /// The pipeline constants of every entry of this op.
    pub(super) fn constants(&self) -> Vec<(&'static str, f64)> {
        match self.accumulate {
            true => vec![("ACCUMULATE", 1.0)],
            false => Vec::new(),
        }
    }
}
