//! Dead-unit statistics: how often each channel is active — in its
//! family's positive region, `x > 0` (ReLU's `y > 0`) — counted on the way
//! through the forward. The forward writes one activity bit per element in
//! the mask layout (src/engine/blocked.wgsl), and a count pass over those
//! bits (1/32 of an f32 tensor) adds them into a monitor's GPU-side totals
//! (`count.wgsl`, one kernel per layout class, chosen by `count::plan`). Here:
//! the monitor, what it reads back as, the count pass's recording and its
//! CPU reference (`cpu.rs`).

pub(crate) mod count;
pub(crate) mod cpu;

pub(crate) use count::Counter;

use crate::error::{Error, Result};
use crate::shape::element_count;
use crate::tensor::Tensor;

/// GPU-side totals of how often each channel was active, added to by every
/// forward it watches ([`ForwardOut::with_stats`](crate::ForwardOut::with_stats)),
/// read back on demand with
/// [`Gpu::read_activity`](crate::Gpu::read_activity) and zeroed with
/// [`Gpu::reset_activity`](crate::Gpu::reset_activity).
///
/// An element is *active* where it is in its activation's positive region:
/// `x > 0` for every family (for ReLU that is `y > 0`; NaN, ±0 and −inf
/// are not). Counts are exact integers, the same whatever the adapter or
/// the scheduling: each total is a `u64`, so no realistic training run
/// overflows one (2⁶⁴ elements is 10⁸ epochs over 10¹¹ activations).
/// Created by [`Gpu::activity_monitor`](crate::Gpu::activity_monitor) for
/// one layer's channel count and channel axis; a clone shares its totals.
#[derive(Clone, Debug)]
pub struct ActivityMonitor {
    /// `[elements seen, active in channel 0, channel 1, ...]`, u64s as
    /// (low, high) u32 words, seen as a tensor for the tensors' checks.
    totals: Tensor<f32>,
    channels: usize,
    channel_axis: usize,
}

impl ActivityMonitor {
    pub(crate) fn new(totals: Tensor<f32>, channels: usize, channel_axis: usize) -> Self {
        ActivityMonitor {
            totals,
            channels,
            channel_axis,
        }
    }

    /// The `u32` words of the totals of `channels` channels.
    pub(crate) fn words_for(channels: usize) -> usize {
        2 * (channels + 1)
    }

    /// The number of channels it counts.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The axis of the watched tensors that holds the channels.
    pub fn channel_axis(&self) -> usize {
        self.channel_axis
    }

    pub(crate) fn totals(&self) -> &Tensor<f32> {
        &self.totals
    }

    /// Where `shape`'s channels are, or an error if its channel axis is
    /// missing or not as long as the monitor's channel count.
    pub(crate) fn layout(&self, shape: &[usize]) -> Result<Layout> {
        let axis = self.channel_axis;
        let Some(&channels) = shape.get(axis) else {
            return Err(Error::Shape(format!(
                "the monitor's channel axis {axis} is out of range for a tensor of shape \
                 {shape:?}; use 1 for NCHW or [batch, units], rank - 1 for channels-last"
            )));
        };
        if channels != self.channels {
            return Err(Error::ShapeMismatch {
                what: "the tensor's channel axis (the monitor's channel count)",
                actual: vec![channels],
                expected: vec![self.channels],
            });
        }
        Ok(Layout {
            channels,
            inner: element_count(&shape[axis + 1..])?.max(1),
        })
    }
}

/// What a monitor's totals say, read back by
/// [`Gpu::read_activity`](crate::Gpu::read_activity).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivityStats {
    /// Active elements of each channel since the last reset.
    pub active: Vec<u64>,
    /// Elements of each channel seen since the last reset (the same for
    /// every channel: a tensor holds as many of each).
    pub seen: u64,
}

impl ActivityStats {
    /// The totals' words, as the count kernels leave them.
    pub(crate) fn from_words(words: &[u32]) -> Self {
        let totals: Vec<u64> = words
            .chunks_exact(2)
            .map(|w| u64::from(w[0]) | u64::from(w[1]) << 32)
            .collect();
        let channels = (totals.len() - 1).max(1) as u64;
        ActivityStats {
            seen: totals[0] / channels,
            active: totals[1..].to_vec(),
        }
    }

    /// The fraction of each channel's elements that were active (0 for
    /// every channel before anything is seen).
    pub fn active_fraction(&self) -> Vec<f64> {
        let seen = self.seen.max(1) as f64;
        self.active.iter().map(|&a| a as f64 / seen).collect()
    }

    /// The channels never active since the last reset, once anything has
    /// been seen: dead units, which get no gradient through ReLU.
    pub fn dead_channels(&self) -> Vec<usize> {
        match self.seen {
            0 => Vec::new(),
            _ => (0..self.active.len())
                .filter(|&c| self.active[c] == 0)
                .collect(),
        }
    }

    /// The fraction of the channels that are dead ([`Self::dead_channels`]).
    pub fn dead_fraction(&self) -> f64 {
        self.dead_channels().len() as f64 / self.active.len().max(1) as f64
    }
}

/// A watched tensor's channels: the channel of element `i` is
/// `(i / inner) % channels`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) channels: usize,
    pub(crate) inner: usize,
}
#[cfg(test)]
mod tests {
    use super::*;

    /// Totals read back: u64s from word pairs, the elements seen per
    /// channel, the dead channels only once something was seen.
    #[test]
    fn stats_from_totals() {
        let stats = ActivityStats::from_words(&[12, 0, 0, 0, 3, 0, 0xffff_ffff, 1, 0, 0]);
        assert_eq!(stats.seen, 3);
        assert_eq!(stats.active, vec![0, 3, (1 << 33) - 1, 0]);
        assert_eq!(stats.dead_channels(), vec![0, 3]);
        assert_eq!(stats.dead_fraction(), 0.5);
        assert_eq!(stats.active_fraction()[1], 1.0);
        let fresh = ActivityStats::from_words(&[0; 6]);
        assert!(fresh.dead_channels().is_empty());
        assert_eq!(fresh.active_fraction(), vec![0.0, 0.0]);
    }
}
