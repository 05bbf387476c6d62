//! The CPU reference of the dead-unit statistics.

use crate::element::Element;
use crate::error::{Error, Result};
use crate::shape::element_count;

/// The active elements of each channel of `x`, shaped `shape` with its
/// channels along `channel_axis`: what one watched forward adds to a
/// monitor ([`ActivityMonitor`](crate::ActivityMonitor)). Active is
/// `x > 0` (NaN, ±0 and −inf are not), for every activation.
///
/// ```
/// use wgpu_relu::cpu;
/// let x = [1.0f32, -1.0, 0.0, 2.0, f32::NAN, 3.0]; // [1, 2, 3]
/// assert_eq!(cpu::active_counts(&x, &[1, 2, 3], 1).unwrap(), vec![1, 2]);
/// ```
pub fn active_counts<T: Element>(
    x: &[T],
    shape: &[usize],
    channel_axis: usize,
) -> Result<Vec<u64>> {
    if element_count(shape)? != x.len() {
        return Err(Error::Shape(format!(
            "shape {shape:?} does not hold {} elements",
            x.len()
        )));
    }
    let Some(&channels) = shape.get(channel_axis) else {
        return Err(Error::Shape(format!(
            "channel axis {channel_axis} is out of range for shape {shape:?}"
        )));
    };
    let inner = element_count(&shape[channel_axis + 1..])?.max(1);
    let mut counts = vec![0u64; channels];
    for (i, v) in x.iter().enumerate() {
        if v.to_f32() > 0.0 {
            counts[(i / inner) % channels] += 1;
        }
    }
    Ok(counts)
}
