//! Helpers shared by the GPU tests: the device, random inputs, comparisons.
#![allow(dead_code)]

use std::sync::OnceLock;

use wgpu_relu::{cpu, Activation, Element, Gpu};

/// The one `Gpu` of a test binary. No adapter is a failure, never a skip.
pub fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(|| {
        let gpu = Gpu::new().unwrap_or_else(|e| {
            panic!(
                "these tests need a GPU adapter and found none: {e}\n\
                 install a software one with `apt-get install mesa-vulkan-drivers libvulkan1` \
                 and choose it with WGPU_BACKEND=vulkan (or WGPU_BACKEND=gl for llvmpipe)"
            )
        });
        let info = gpu.adapter_info();
        eprintln!(
            "adapter: {} ({:?}, {:?})",
            info.name, info.backend, info.device_type
        );
        gpu
    })
}

/// A `Gpu` whose storage bindings hold 1 MiB (262,144 f32), so that a
/// tensor of a few million elements spans several: the chunked paths at
/// test sizes.
pub fn small_bindings_gpu() -> Gpu {
    let limits = wgpu_relu::wgpu::Limits {
        max_storage_buffer_binding_size: 1 << 20,
        ..wgpu_relu::wgpu::Limits::default()
    };
    Gpu::with_options(wgpu_relu::GpuOptions::default().limits(limits)).unwrap()
}

/// Random inputs from `rand`'s seeded generator, seeded fresh each run and
/// printed, so a failure can be replayed with TEST_SEED.
pub struct Rng(rand::rngs::StdRng);

impl Rng {
    pub fn new(test: &str) -> Self {
        let seed = std::env::var("TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(rand::random::<u64>);
        eprintln!("{test}: TEST_SEED={seed}");
        Self::from_seed(seed)
    }

    /// A generator for a seed drawn elsewhere (a property test's).
    pub fn from_seed(seed: u64) -> Self {
        Self(rand::SeedableRng::seed_from_u64(seed))
    }

    pub fn next_u64(&mut self) -> u64 {
        rand::Rng::next_u64(&mut self.0)
    }

    /// Uniform in [-scale, scale).
    pub fn uniform(&mut self, scale: f32) -> f32 {
        rand::RngExt::random_range(&mut self.0, -scale..scale)
    }

    /// Uniform in 0..n.
    pub fn below(&mut self, n: u64) -> u64 {
        rand::RngExt::random_range(&mut self.0, 0..n)
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

/// PReLU shapes (channel axis 1), one for each way the weight gradient is
/// walked and reduced: pass 1 inside runs (whole vec4s, or ragged with
/// heads) or in columns (the lanes' weights a vec4 of the weights, a row
/// made in scratch, or found in the walk), folded or not; pass 2 by one
/// invocation or one workgroup per channel, reading the partials as vec4s
/// or as scalars, four channels an invocation, from one or several rows
/// of partials per channel.
pub const WEIGHT_GRADIENT_SHAPES: [&[usize]; 31] = [
    &[1, 2, 32768],  // runs, vec4 partials: an invocation per channel
    &[2, 2, 16384],  //   the same, two rows of partials
    &[3, 2, 32768],  // runs: a workgroup per channel, vec4 partials
    &[2, 3, 8191],   // runs not a whole number of vec4s: heads, the tensor's last vec4 partial
    &[2, 3, 143361], // long odd runs: each run's partials folded before pass 2
    &[1, 1, 600001], // one shared weight, one long odd run: its partials folded
    &[4100, 3, 65],  // many short odd runs: rows of partials folded
    &[300, 3, 100],  // runs of 100 in 3 channels: rows of 15 partials, folded a float at a time
    &[260, 64, 65],  //   in 64 channels: rows 1 KiB apart, a vec4 fold
    &[2, 3, 4097],   // odd runs, short tensor
    &[3, 5, 81],     // short odd runs of 21 vec4s: seven an invocation, the last vec4 partial
    &[7, 3, 58],     // runs of 15 vec4s, too few rows for columns: five an invocation
    &[4, 3, 3000],   // runs, four rows
    &[2, 40, 5],     // odd runs of five, too few rows for columns: every vec4 crosses a run end
    &[16, 3, 3000],  // runs in a batch
    &[80, 16, 784],  // runs of 784 in a batch: 28 partials a run (seven vec4s each), folded
    &[1280, 4, 16],  // columns (runs of 16 in a batch), folded before pass 2
    &[8192, 4, 16],  //   the same, more rows
    &[300, 4, 7],    // columns, a weight per lane; a workgroup per channel
    &[1000, 64],     // columns, channels last: four channels per vec4
    &[9, 3, 7],      // columns, rows of 21 elements, the tensor's last vec4 partial
    &[1001, 37],     // channels last 37: rows of 222 vec4s, last vec4 partial
    &[385, 37],      //   the same, the last vec4 in the first row of a block of 16
    &[4001, 3],      // channels last 3, folded twelve partials a row, last vec4 partial
    &[300, 1001],    // channels last 1,001: rows four workgroups wide
    &[1201, 257],    // channels last 257: rows of seven steps, eight workgroups of 232
    &[8201, 131],    // channels last 131: one workgroup a row, folded four periods a row
    &[40, 2000],     // channels last 2,000: two steps a row, pass 2 four channels a row
    &[5, 64, 1],     // columns, one row block: every partial its own
    &[8, 65537],     // channels last 65,537: rows too long for a row of lane weights
    &[64, 5, 7],     // columns, period 35: pass 2's vec4s straddle channels
];

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
        // Signalling NaNs, which must pass through unquieted.
        f32::from_bits(0x7f81_2345),
        f32::from_bits(0xff80_0001),
    ];
    let n = v.len();
    for i in 0..n {
        v.push(v[(i * 7) % n]);
    }
    v
}

/// Element-wise results must be bit-identical: -0 is not +0, and a NaN
/// keeps its sign and payload. For ops that multiply, see
/// [`assert_same_products`].
pub fn assert_same<T: Element>(actual: &[T], expected: &[T], what: &str) {
    assert_same_products(actual, expected, &vec![false; expected.len()], what);
}

/// [`assert_same`], except that where `products[i]` the element is a
/// product (s·x, w·g), whose NaN IEEE 754 leaves open: there any NaN
/// matches a NaN. Every other bit still counts, and a NaN passed through
/// must keep its bits.
pub fn assert_same_products<T: Element>(
    actual: &[T],
    expected: &[T],
    products: &[bool],
    what: &str,
) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    let bad: Vec<usize> = (0..actual.len())
        .filter(|&i| {
            !(same_bits(actual[i], expected[i])
                || (products[i] && actual[i].is_nan() && expected[i].is_nan()))
        })
        .collect();
    if let Some(&i) = bad.first() {
        panic!(
            "{what}: {} of {} elements differ; first at {i}: got {:?} ({:#x}), expected {:?} \
             ({:#x})",
            bad.len(),
            actual.len(),
            actual[i],
            bits(actual[i]),
            expected[i],
            bits(expected[i]),
        );
    }
}

/// Where an op's result is a product rather than a selection: everywhere
/// `x > 0` is false for Leaky ReLU and PReLU, forward and backward; nowhere
/// for ReLU.
// `!(x > 0)` on purpose: true for NaN, as the rule says.
#[allow(clippy::neg_cmp_op_on_partial_ord)]
pub fn products<T: Element>(op: &Op<T>, x: &[T]) -> Vec<bool> {
    match op {
        Op::Relu => vec![false; x.len()],
        Op::Leaky(_) | Op::Prelu { .. } => x.iter().map(|v| !(v.to_f32() > 0.0)).collect(),
    }
}

/// The bit pattern of an element, widened to u32.
pub fn bits<T: Element>(v: T) -> u32 {
    let bytes = bytemuck::bytes_of(&v);
    let mut word = [0u8; 4];
    word[..bytes.len()].copy_from_slice(bytes);
    u32::from_le_bytes(word)
}

pub fn same_bits<T: Element>(a: T, b: T) -> bool {
    bits(a) == bits(b)
}

/// `data` in a tensor of shape `shape` that starts `offset` elements into
/// its buffer, the elements before it poisoned: the scalar path (odd
/// offsets), the vec4 path (multiples of four) or f16's word path
/// (multiples of eight halves).
pub fn at_offset<T: Element>(
    gpu: &Gpu,
    data: &[T],
    offset: usize,
    shape: &[usize],
) -> wgpu_relu::Tensor<T> {
    let mut padded = vec![T::from_f32(-777.0); offset];
    padded.extend_from_slice(data);
    let buffer = gpu.upload(&padded).unwrap().buffer().clone();
    wgpu_relu::Tensor::from_buffer(buffer, (offset as u64) * T::SIZE, shape).unwrap()
}

/// Fills a tensor's buffer with a poison pattern before a kernel runs, so an
/// element the kernel does not write shows up as a mismatch.
pub fn poisoned<T: Element>(gpu: &Gpu, shape: &[usize]) -> wgpu_relu::Tensor<T> {
    let len: usize = shape.iter().product();
    let poison = vec![T::from_f32(-12345.0); len];
    gpu.upload(&poison).unwrap().reshape(shape).unwrap()
}

/// An activation described by host data, so that tests can build both the
/// GPU `Activation` and the CPU reference from it.
#[derive(Clone, Debug)]
pub enum Op<T> {
    Relu,
    Leaky(f32),
    Prelu { weight: Vec<T>, axis: usize },
}

/// Runs `f` with the GPU activation for `op` (uploading PReLU's weight).
pub fn with_activation<T: Element, R>(
    gpu: &Gpu,
    op: &Op<T>,
    f: impl FnOnce(&Activation<'_, T>) -> R,
) -> R {
    match op {
        Op::Relu => f(&Activation::Relu),
        Op::Leaky(s) => f(&Activation::LeakyRelu { negative_slope: *s }),
        Op::Prelu { weight, axis } => {
            let w = gpu.upload(weight).unwrap();
            f(&Activation::Prelu {
                weight: &w,
                channel_axis: *axis,
            })
        }
    }
}

pub fn cpu_forward<T: Element>(op: &Op<T>, x: &[T], shape: &[usize]) -> Vec<T> {
    match op {
        Op::Relu => cpu::relu(x),
        Op::Leaky(s) => cpu::leaky_relu(x, *s),
        Op::Prelu { weight, axis } => cpu::prelu(x, shape, weight, *axis).unwrap(),
    }
}

/// Forward three ways — `forward`, `encode_forward` into a poisoned
/// output, `forward_in_place` — each against the CPU reference.
pub fn check_forward<T: Element>(gpu: &Gpu, op: &Op<T>, x: &[T], shape: &[usize]) {
    let expected = cpu_forward(op, x, shape);
    let prods = products(op, x);
    let what = format!("{op:?} forward, shape {shape:?}");
    with_activation(gpu, op, |act| {
        let xt = gpu.upload(x).unwrap().reshape(shape).unwrap();
        let y = gpu.forward(act, &xt).unwrap();
        assert_eq!(y.shape(), shape);
        assert_same_products(&gpu.download(&y).unwrap(), &expected, &prods, &what);

        let y = poisoned::<T>(gpu, shape);
        let mut encoder = gpu.device().create_command_encoder(&Default::default());
        gpu.encode_forward(&mut encoder, act, &xt, &y).unwrap();
        gpu.queue().submit([encoder.finish()]);
        assert_same_products(
            &gpu.download(&y).unwrap(),
            &expected,
            &prods,
            &format!("{what} (encode, poisoned output)"),
        );

        gpu.forward_in_place(act, &xt).unwrap();
        assert_same_products(
            &gpu.download(&xt).unwrap(),
            &expected,
            &prods,
            &format!("{what} (in place)"),
        );
    });
}

/// Backward (input gradient into a poisoned tensor, and PReLU's weight
/// gradient within `tolerance · Σ|x·g|` of the f64 reference).
pub fn check_backward<T: Element>(
    gpu: &Gpu,
    op: &Op<T>,
    x: &[T],
    g: &[T],
    shape: &[usize],
    tolerance: f64,
) {
    let what = format!("{op:?} backward, shape {shape:?}");
    let prods = products(op, x);
    let expected = match op {
        Op::Relu => cpu::relu_backward(x, g),
        Op::Leaky(s) => cpu::leaky_relu_backward(x, g, *s),
        Op::Prelu { weight, axis } => cpu::prelu_backward(x, g, shape, weight, *axis).unwrap().0,
    };
    with_activation(gpu, op, |act| {
        let xt = gpu.upload(x).unwrap().reshape(shape).unwrap();
        let gt = gpu.upload(g).unwrap().reshape(shape).unwrap();
        let grads = gpu.backward(act, &xt, &gt).unwrap();
        assert_same_products(
            &gpu.download(&grads.input).unwrap(),
            &expected,
            &prods,
            &what,
        );

        let gx = poisoned::<T>(gpu, shape);
        let gw = match op {
            Op::Prelu { weight, .. } => Some(poisoned::<T>(gpu, &[weight.len()])),
            _ => None,
        };
        let mut encoder = gpu.device().create_command_encoder(&Default::default());
        gpu.encode_backward(&mut encoder, act, &xt, &gt, &gx, gw.as_ref())
            .unwrap();
        gpu.queue().submit([encoder.finish()]);
        assert_same_products(
            &gpu.download(&gx).unwrap(),
            &expected,
            &prods,
            &format!("{what} (encode, poisoned)"),
        );

        if let Op::Prelu { weight, axis } = op {
            // grad_x alone (no weight gradient) runs other kernels.
            let gx_only = poisoned::<T>(gpu, shape);
            let mut encoder = gpu.device().create_command_encoder(&Default::default());
            gpu.encode_backward(&mut encoder, act, &xt, &gt, &gx_only, None)
                .unwrap();
            gpu.queue().submit([encoder.finish()]);
            assert_same_products(
                &gpu.download(&gx_only).unwrap(),
                &expected,
                &prods,
                &format!("{what} (grad_x only)"),
            );

            let reference = cpu::prelu_weight_grad(x, g, shape, weight.len(), *axis).unwrap();
            let scale = cpu::prelu_weight_grad_magnitude(x, g, shape, weight.len(), *axis).unwrap();
            let from_backward = gpu
                .download(
                    grads
                        .weight
                        .as_ref()
                        .expect("PReLU gives a weight gradient"),
                )
                .unwrap();
            let from_encode = gpu.download(gw.as_ref().unwrap()).unwrap();
            assert_same(
                &from_encode,
                &from_backward,
                &format!("{what}: weight gradient, two runs"),
            );
            assert_close(&from_backward, &reference, &scale, tolerance, &what);

            // In place (grad_x into grad_y's range): the same bits, grad_x's
            // and the weight gradient's — no vec4 is read after another
            // invocation wrote it.
            let in_place = gpu.upload(g).unwrap().reshape(shape).unwrap();
            let gw_in_place = poisoned::<T>(gpu, &[weight.len()]);
            let mut encoder = gpu.device().create_command_encoder(&Default::default());
            gpu.encode_backward(
                &mut encoder,
                act,
                &xt,
                &in_place,
                &in_place,
                Some(&gw_in_place),
            )
            .unwrap();
            gpu.queue().submit([encoder.finish()]);
            assert_same(
                &gpu.download(&in_place).unwrap(),
                &gpu.download(&grads.input).unwrap(),
                &format!("{what}: grad_x in place"),
            );
            assert_same(
                &gpu.download(&gw_in_place).unwrap(),
                &from_backward,
                &format!("{what}: weight gradient in place"),
            );
        } else {
            assert!(
                grads.weight.is_none(),
                "{what}: no weight gradient expected"
            );
        }
    });
}

/// Each value within `tolerance · scale` (plus a subnormal-sized floor) of the f64 reference; NaN exactly
/// where the reference is NaN, infinities equal.
pub fn assert_close<T: Element>(
    actual: &[T],
    reference: &[f64],
    scale: &[f64],
    tolerance: f64,
    what: &str,
) {
    assert_eq!(
        actual.len(),
        reference.len(),
        "{what}: weight gradient length"
    );
    for (c, ((&a, &r), &s)) in actual.iter().zip(reference).zip(scale).enumerate() {
        let a = f64::from(a.to_f32());
        let ok = if r.is_nan() || !s.is_finite() {
            a.is_nan() == r.is_nan() && (r.is_nan() || a == r || !s.is_finite())
        } else {
            // Plus a floor of 1000 units of f32's smallest subnormal: a
            // gradient of subnormal size cannot be closer than its own
            // resolution, with each product rounded to it.
            (a - r).abs() <= tolerance * s + 1000.0 * f64::from(f32::from_bits(1))
        };
        assert!(
            ok,
            "{what}: weight gradient of channel {c}: got {a}, expected {r} (tolerance {})",
            tolerance * s
        );
    }
}
