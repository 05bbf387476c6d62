//! Pass 2 of the weight gradient in slabs: where the partial sums do not
//! fit one storage binding, each channel's sum is carried from one slab of
//! partials to the next, in a fixed order.

use crate::error::{Error, Result};

/// `acc_mode` bits of pass 2 (`finish_channel` in reduce.wgsl): start from
/// the earlier slabs' sums; keep the sum for a later slab.
pub(crate) const ACC_ADD: u32 = 1;
pub(crate) const ACC_KEEP: u32 = 2;

/// A part of pass 2: channels `c0..c1`, rows of partials `a0..a1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slab {
    pub(crate) c0: u64,
    pub(crate) c1: u64,
    pub(crate) a0: u64,
    pub(crate) a1: u64,
    pub(crate) acc_mode: u32,
}

/// How pass 2 reads the partials (for a binding limit and offset alignment
/// in bytes): in one dispatch where they fit one
/// binding, else in slabs of rows of partials (and of channels, where one
/// row is too long), each within a binding, summed in order.
pub(crate) fn slabs(
    binding: u64,
    align: u64,
    partial_count: u64,
    channels: u64,
    [a_count, a_stride, b_count]: [u64; 3],
) -> Result<Vec<Slab>> {
    // Room in a binding, whatever the remainder of its aligned start.
    let room = binding.saturating_sub(align) / 4;
    if partial_count * 4 <= binding {
        return Ok(vec![Slab {
            c0: 0,
            c1: channels,
            a0: 0,
            a1: a_count,
            acc_mode: 0,
        }]);
    }
    if b_count > room {
        return Err(Error::TooLarge {
            what: "one channel's row of weight-gradient partial sums (bytes)",
            size: b_count * 4,
            limit: room * 4,
            hint: "request a device with a larger max_storage_buffer_binding_size",
        });
    }
    let per_slab_channels = channels.min(room / b_count);
    let mut slabs = Vec::new();
    for c0 in (0..channels).step_by(per_slab_channels as usize) {
        let c1 = (c0 + per_slab_channels).min(channels);
        // Rows of partials per slab: the first row's channels, then a
        // stride per further row.
        let rows = 1 + (room - (c1 - c0) * b_count) / a_stride.max(1);
        for a0 in (0..a_count).step_by(rows as usize) {
            let a1 = (a0 + rows).min(a_count);
            let from_earlier = if a0 > 0 { ACC_ADD } else { 0 };
            let to_later = if a1 < a_count { ACC_KEEP } else { 0 };
            slabs.push(Slab {
                c0,
                c1,
                a0,
                a1,
                acc_mode: from_earlier | to_later,
            });
        }
    }
    Ok(slabs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pass 2 reads partials in slabs that each fit a binding, covering
    /// every (channel, row) once, in order, carrying the sums between.
    #[test]
    fn slabs_cover_every_partial_within_a_binding() {
        let (binding, align) = (1 << 20, 256);
        let room = ((1 << 20) - 256) / 4;
        // [partials, channels, a_count, a_stride, b_count, slabs]
        let cases: [[u64; 6]; 5] = [
            [1000, 10, 10, 100, 10, 1],                // fits: one dispatch
            [400_000, 200_000, 2, 200_000, 1, 2],      // a dense layer: a slab per row
            [600_000, 3, 100, 6000, 2000, 3],          // rows in slabs of 43
            [3_000_000, 1000, 3, 1_000_000, 1000, 12], // channels split too
            [0, 4, 0, 4, 1, 1],                        // an empty tensor
        ];
        for [partials, channels, a_count, a_stride, b_count, count] in cases {
            let slabs = slabs(
                binding,
                align,
                partials,
                channels,
                [a_count, a_stride, b_count],
            )
            .unwrap();
            assert_eq!(slabs.len() as u64, count, "{partials} partials");
            let mut seen = vec![0u32; (channels * a_count.max(1)) as usize];
            for slab in &slabs {
                let rows = slab.a1 - slab.a0;
                if rows > 0 && slabs.len() > 1 {
                    assert!((rows - 1) * a_stride + (slab.c1 - slab.c0) * b_count <= room);
                }
                assert_eq!(slab.acc_mode & ACC_ADD != 0, slab.a0 > 0);
                assert_eq!(slab.acc_mode & ACC_KEEP != 0, slab.a1 < a_count);
                for c in slab.c0..slab.c1 {
                    for a in slab.a0..slab.a1 {
                        seen[(c * a_count + a) as usize] += 1;
                    }
                }
            }
            if a_count > 0 {
                assert!(seen.iter().all(|&n| n == 1), "{partials}: {seen:?}");
            }
        }
        // A row of one channel's partials larger than a binding: an error.
        assert!(slabs(binding, align, 1 << 30, 2, [2, 1 << 28, 1 << 28]).is_err());
    }
}
