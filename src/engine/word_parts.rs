//! Where the word kernels run inside a chunk of f16 data. They load eight
//! halves as one `vec4<u32>`, so they need every operand at a multiple of
//! eight halves in its binding and an even length; the `vec4<f16>` kernel
//! that takes the rest costs a software rasteriser about 2.5× as much (it
//! moves and converts four 16-bit lanes a load). An odd count or a view at
//! an odd place would send the whole tensor there: instead the few halves
//! that stop the words from lining up run in dispatches of their own. Pure,
//! so that the choice for each class is tested on the CPU.

/// The parts of a chunk of `n` halves whose operands' first elements sit at
/// `offsets` (elements from the start of each binding), in order, as
/// `(first, len)` from the chunk's start: where the offsets agree modulo
/// eight halves, a head of fewer than eight that brings them to a multiple
/// of eight, the words' part (even, at least eight), and a last odd half;
/// else, or where no words' part of eight halves is left, the chunk whole.
/// Only the words' part can take the word kernel (the rest fails its test
/// of offsets or length); the others keep the vec4 or scalar kernel.
pub(crate) fn word_parts(n: u64, offsets: &[u32]) -> Vec<(u64, u64)> {
    let Some(&first) = offsets.first() else {
        return vec![(0, n)];
    };
    let residue = first % 8;
    if offsets.iter().any(|o| o % 8 != residue) {
        return vec![(0, n)];
    }
    let head = u64::from((8 - residue) % 8);
    let words = n.saturating_sub(head) / 2 * 2;
    if words < 8 {
        return vec![(0, n)];
    }
    let tail = n - head - words;
    [(0, head), (head, words), (head + words, tail)]
        .into_iter()
        .filter(|&(_, len)| len > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::word_parts;

    #[test]
    fn aligned_even_chunks_stay_whole() {
        assert_eq!(word_parts(1 << 20, &[0, 0]), vec![(0, 1 << 20)]);
        assert_eq!(word_parts(8, &[16, 8, 0]), vec![(0, 8)]);
    }

    #[test]
    fn an_odd_count_leaves_its_last_half_alone() {
        assert_eq!(
            word_parts(1_048_543, &[0, 0]),
            vec![(0, 1_048_542), (1_048_542, 1)]
        );
        assert_eq!(word_parts(9, &[8]), vec![(0, 8), (8, 1)]);
    }

    #[test]
    fn offsets_that_agree_take_a_head_to_the_next_eight() {
        assert_eq!(word_parts(100, &[3, 3, 11]), vec![(0, 5), (5, 94), (99, 1)]);
        assert_eq!(word_parts(100, &[4, 12]), vec![(0, 4), (4, 96)]);
        assert_eq!(word_parts(13, &[7]), vec![(0, 1), (1, 12)]);
    }

    #[test]
    fn offsets_that_disagree_or_too_few_halves_stay_whole() {
        assert_eq!(word_parts(1000, &[0, 4]), vec![(0, 1000)]);
        assert_eq!(word_parts(1000, &[1, 2, 1]), vec![(0, 1000)]);
        // Fewer than eight halves after the head: no words at all.
        assert_eq!(word_parts(12, &[3]), vec![(0, 12)]);
        assert_eq!(word_parts(7, &[0]), vec![(0, 7)]);
        assert_eq!(word_parts(0, &[0]), vec![(0, 0)]);
    }

    /// Every part lies in the chunk, in order, with no gap or overlap, and
    /// only the words' part meets the word kernel's test.
    #[test]
    fn the_parts_tile_the_chunk() {
        for n in 0..40u64 {
            for a in 0..16u32 {
                for b in [a, a + 8, a + 1] {
                    let parts = word_parts(n, &[a, b]);
                    let mut next = 0;
                    let mut words = 0;
                    for &(first, len) in &parts {
                        assert_eq!(first, next, "n {n}, offsets {a} {b}: {parts:?}");
                        next = first + len;
                        let (oa, ob) = (u64::from(a) + first, u64::from(b) + first);
                        if len >= 8 && len % 2 == 0 && oa % 8 == 0 && ob % 8 == 0 {
                            words += 1;
                        }
                    }
                    assert_eq!(next, n);
                    let lined_up = a % 8 == b % 8 && n >= u64::from((8 - a % 8) % 8) + 8;
                    assert_eq!(
                        words,
                        u32::from(lined_up),
                        "n {n}, offsets {a} {b}: {parts:?}"
                    );
                }
            }
        }
    }
}
