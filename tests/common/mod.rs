//! Helpers shared by the GPU tests: the device, random inputs, comparisons.
#![allow(dead_code)]

use std::sync::OnceLock;

use wgpu_relu::{Element, Gpu};

/// The one `Gpu` of a test binary. No adapter is a failure, never a skip.
pub fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(|| {
        Gpu::new().unwrap_or_else(|e| {
            panic!(
                "these tests need a GPU adapter and found none: {e}\n\
                 install a software one with `apt-get install mesa-vulkan-drivers libvulkan1` \
                 and choose it with WGPU_BACKEND=vulkan (or WGPU_BACKEND=gl for llvmpipe)"
            )
        })
    })
}

/// A small, seedable generator (xorshift64*), seeded fresh each run and
/// printed, so a failure can be replayed with TEST_SEED.
pub struct Rng(u64);

impl Rng {
    pub fn new(test: &str) -> Self {
        let seed = std::env::var("TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!("{test}: TEST_SEED={seed}");
        Self(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [-scale, scale).
    pub fn uniform(&mut self, scale: f32) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Random values around zero, with a sprinkle of every edge case.
    pub fn values(&mut self, len: usize) -> Vec<f32> {
        (0..len)
            .map(|_| match self.below(64) {
                0 => f32::NAN,
                1 => f32::INFINITY,
                2 => f32::NEG_INFINITY,
                3 => 0.0,
                4 => -0.0,
                5 => f32::from_bits(1 + self.below(0x7f_ffff) as u32),
                6 => -f32::from_bits(1 + self.below(0x7f_ffff) as u32),
                _ => self.uniform(4.0),
            })
            .collect()
    }

    pub fn values_f16(&mut self, len: usize) -> Vec<half::f16> {
        (0..len)
            .map(|_| match self.below(64) {
                0 => half::f16::NAN,
                1 => half::f16::INFINITY,
                2 => half::f16::NEG_INFINITY,
                3 => half::f16::ZERO,
                4 => half::f16::NEG_ZERO,
                5 => half::f16::from_bits(1 + self.below(0x3ff) as u16),
                6 => half::f16::from_bits(0x8001 + self.below(0x3ff) as u16),
                _ => half::f16::from_f32(self.uniform(4.0)),
            })
            .collect()
    }
}

/// Every edge case of f32, repeated to fill vec4 bodies and scalar tails.
pub fn edge_values() -> Vec<f32> {
    let mut v = vec![
        f32::NAN,
        -f32::NAN,
        f32::from_bits(0x7fc0_0001),
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
        f32::from_bits(1),
        -f32::from_bits(1),
        f32::from_bits(0x007f_ffff),
        -f32::from_bits(0x007f_ffff),
        f32::MAX,
        f32::MIN,
        1.0,
        -1.0,
        0.5,
        -3.25,
    ];
    let n = v.len();
    for i in 0..n {
        v.push(v[(i * 7) % n]);
    }
    v
}

/// Element-wise results must be bit-identical, except that -0 equals +0 and
/// any NaN equals any NaN.
pub fn assert_same<T: Element>(actual: &[T], expected: &[T], what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    let bad: Vec<usize> = (0..actual.len())
        .filter(|&i| !same_value(actual[i], expected[i]))
        .collect();
    if let Some(&i) = bad.first() {
        panic!(
            "{what}: {} of {} elements differ; first at {i}: got {:?}, expected {:?}",
            bad.len(),
            actual.len(),
            actual[i],
            expected[i]
        );
    }
}

pub fn same_value<T: Element>(a: T, b: T) -> bool {
    // For non-zero, non-NaN values, f32 equality is bit equality.
    let (a, b) = (a.to_f32(), b.to_f32());
    (a.is_nan() && b.is_nan()) || a == b
}

/// Fills a tensor's buffer with a poison pattern before a kernel runs, so an
/// element the kernel does not write shows up as a mismatch.
pub fn poisoned<T: Element>(gpu: &Gpu, shape: &[usize]) -> wgpu_relu::Tensor<T> {
    let len: usize = shape.iter().product();
    let poison = vec![T::from_f32(-12345.0); len];
    gpu.upload(&poison).unwrap().reshape(shape).unwrap()
}
