//! Shape arithmetic and the channel layout of PReLU's weight.

use crate::error::{Error, Result};

/// The greatest common divisor: what a channel period has in common with
/// the four lanes of a vec4 (or a word's 32 bits), which says how many
/// periods repeat the same lane pattern.
pub(crate) fn gcd(a: u64, b: u64) -> u64 {
    match b {
        0 => a,
        _ => gcd(b, a % b),
    }
}

/// Number of elements of a shape, or an error if it overflows.
pub(crate) fn element_count(shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| {
            Error::Shape(format!(
                "the shape {shape:?} has more elements than fit in a usize"
            ))
        })
}

/// Which weight an element uses: `(i / inner) % channels`, or 0 for a
/// shared weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Channels {
    /// Weights: the length of the channel axis, or 1 for a shared one.
    pub(crate) channels: usize,
    /// Elements of one channel run: the product of the dimensions after the
    /// channel axis (at least 1).
    pub(crate) inner: usize,
}

impl Channels {
    /// Checks the axis and the weight length against the shape.
    pub(crate) fn new(
        shape: &[usize],
        len: usize,
        weight_len: usize,
        channel_axis: usize,
    ) -> Result<Self> {
        if element_count(shape)? != len {
            return Err(Error::Shape(format!(
                "shape {shape:?} does not hold {len} elements"
            )));
        }
        let Some(&axis_len) = shape.get(channel_axis) else {
            return Err(Error::InvalidWeight(format!(
                "channel_axis {channel_axis} is out of range for a tensor of rank {}; \
                 use 1 for NCHW or rank - 1 for channels-last",
                shape.len()
            )));
        };
        if weight_len != 1 && weight_len != axis_len {
            return Err(Error::InvalidWeight(format!(
                "the weight has {weight_len} elements but must have 1 (one shared slope) or \
                 {axis_len} (one per channel along axis {channel_axis} of shape {shape:?})"
            )));
        }
        let inner = element_count(&shape[channel_axis + 1..])?;
        Ok(Self {
            channels: weight_len,
            inner: inner.max(1),
        })
    }

    /// The weight of the element at `index`.
    pub(crate) fn of(&self, index: usize) -> usize {
        (index / self.inner) % self.channels
    }
}
