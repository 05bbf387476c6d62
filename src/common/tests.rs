//! The sign tests as float compares (FLOAT_COMPARES, on lavapipe) and as
//! bit tests give the same bits in every family's kernels.

use crate::{wgpu, Activation, Gpu, GradOut, RreluMode, Saved};

/// Values where a compare could go wrong, as bits: NaNs of either sign,
/// quiet and signalling, with payloads; the zeros; the infinities; the
/// smallest and largest subnormals and normals; ordinary values.
const EDGES: [u32; 20] = [
    0x7fc0_0000,
    0xffc0_0000,
    0x7fc1_2345,
    0xffc5_4321,
    0x7f80_0001,
    0xff80_0001,
    0x0000_0000,
    0x8000_0000,
    0x7f80_0000,
    0xff80_0000,
    0x0000_0001,
    0x8000_0001,
    0x007f_ffff,
    0x807f_ffff,
    0x0080_0000,
    0x8080_0000,
    0x7f7f_ffff,
    0xff7f_ffff,
    0x3f80_0000,
    0xbf80_0000,
];

/// x and g over every pair of edges, then ordinary values; 6 · 71
/// elements (a tail past the last whole vec4).
fn inputs() -> (Vec<f32>, Vec<f32>) {
    let n = 6 * 71;
    let e = EDGES.len();
    let x = (0..n).map(|i| f32::from_bits(EDGES[i % e])).collect();
    let g = (0..n)
        .map(|i| match i < e * e {
            true => f32::from_bits(EDGES[i / e]),
            false => (i as f32 * 0.37).sin(),
        })
        .collect();
    (x, g)
}

/// One activation of every family, PReLU's weight along axis 1.
fn every_family<T: crate::Element>(weight: &crate::Tensor<T>) -> [Activation<'_, T>; 4] {
    [
        Activation::Relu,
        Activation::LeakyRelu {
            negative_slope: 0.125,
        },
        Activation::Prelu {
            weight,
            channel_axis: 1,
        },
        Activation::Rrelu {
            lower: 0.125,
            upper: 1.0 / 3.0,
            mode: RreluMode::Training { seed: 7, stream: 1 },
        },
    ]
}

/// Where the engine takes float compares (lavapipe), every result is the
/// bit tests'; where it does not (llvmpipe under GL), forced float compares
/// break PyTorch's rules for NaN and -0: the reason it does not.
#[test]
fn float_compares_where_they_change_no_bit() {
    let one = Gpu::new().unwrap();
    let other = one.with_engine_changed(|e| e.set_float_compares(!one.engine().float_compares()));
    assert_ne!(
        one.engine().float_compares(),
        other.engine().float_compares()
    );
    let (x, g) = inputs();
    let shape = [2, 3, x.len() / 6];
    let bits = |gpu: &Gpu| {
        let weight = gpu.upload(&[0.25f32, -0.5, f32::MIN_POSITIVE]).unwrap();
        let activations = every_family(&weight);
        let xt = gpu.upload(&x).unwrap().reshape(&shape).unwrap();
        let gt = gpu.upload(&g).unwrap().reshape(&shape).unwrap();
        let mut out: Vec<Vec<u32>> = Vec::new();
        let mut keep = |v: Vec<f32>| out.push(v.iter().map(|e| e.to_bits()).collect());
        for act in &activations {
            keep(gpu.download(&gpu.forward(act, &xt).unwrap()).unwrap());
            let grads = gpu.backward(act, &xt, &gt).unwrap();
            keep(gpu.download(&grads.input).unwrap());
            // A sum of products, whose NaNs IEEE leaves open: any NaN is
            // the same result there, every other bit counts.
            if let Some(w) = grads.weight {
                let w = gpu.download(&w).unwrap();
                keep(
                    w.iter()
                        .map(|&v| if v.is_nan() { f32::NAN } else { v })
                        .collect(),
                );
            }
            // PReLU writes no mask: its weight gradient needs x.
            if let Ok((y, mask)) = gpu.forward_with_mask(act, &xt) {
                keep(gpu.download(&y).unwrap());
                let words = gpu.download_mask(&mask).unwrap();
                keep(words.iter().map(|&w| f32::from_bits(w)).collect());
                let grads = gpu.backward_from(act, Saved::Mask(&mask), &gt).unwrap();
                keep(gpu.download(&grads.input).unwrap());
            }
        }
        let monitor = gpu.activity_monitor(3, 1).unwrap();
        gpu.forward_with_stats(&Activation::Relu, &xt, &monitor)
            .unwrap();
        let active = gpu.read_activity(&monitor).unwrap().active;
        keep(active.iter().map(|&a| f32::from_bits(a as u32)).collect());
        out
    };
    let (a, b) = (bits(&one), bits(&other));
    assert_eq!(a.len(), b.len());
    if !one.engine().float_compares() {
        // Elsewhere the engine claims nothing for float compares; llvmpipe
        // under GL is the adapter known to break them.
        let info = one.adapter_info();
        if info.backend == wgpu::Backend::Gl && info.name.starts_with("llvmpipe") {
            // ReLU's forward of the NaNs and -0 comes first.
            assert_ne!(a[0], b[0], "forced float compares kept the bits here");
        }
        return;
    }
    for (i, (a, b)) in a.iter().zip(&b).enumerate() {
        assert_eq!(a, b, "result {i}");
    }
}

/// An invocation's vec4s side by side (a CPU adapter's element-wise
/// kernels, `ITEM_STEP`) or 4 · WG elements apart (a GPU's) give the
/// same bits in every family: forward, backward, backward from the output
/// and added into the gradient, over several workgroups and a tail, f32
/// and f16 (a CPU adapter's f16 words), PReLU with one shared weight and
/// with runs of whole workgroup spans (its element-wise forward side by
/// side on a CPU adapter) and channels-last (its items a period apart).
#[test]
fn item_layouts_change_no_bit() {
    let one = Gpu::new().unwrap();
    let other = one.with_engine_changed(|e| e.set_cpu_adapter(!one.engine().cpu_adapter()));
    let (x, g) = inputs();
    // Channels-last PReLU's items lie its period apart: 8 channels, 2
    // vec4s; with 16, 64, 128 and 512 its forward reads the engine's
    // table, its items in lines (512's period two lines long); 132, 12
    // and 3 take the walk.
    let shapes: [&[usize]; 10] = [
        &[1, 1, 40_013],
        &[2, 2, 16_384],
        &[2_001, 64],
        &[4_001, 8],
        &[1_001, 132],
        &[1_001, 12],
        &[1_001, 3],
        &[1_001, 16],
        &[1_003, 128],
        &[251, 512],
    ];
    let f16 = one.device().features().contains(wgpu::Features::SHADER_F16);
    for shape in shapes {
        let n: usize = shape.iter().product();
        let x: Vec<f32> = x.iter().cycle().take(n).copied().collect();
        let g: Vec<f32> = g.iter().cycle().take(n).copied().collect();
        let same = |a: Vec<Vec<u32>>, b: Vec<Vec<u32>>, what: &str| {
            assert_eq!(a.len(), b.len());
            for (i, (a, b)) in a.iter().zip(&b).enumerate() {
                let first = a.iter().zip(b).position(|(a, b)| a != b);
                assert_eq!(first, None, "{what} {shape:?}: result {i}");
            }
        };
        same(
            layout_bits(&one, &x, &g, shape),
            layout_bits(&other, &x, &g, shape),
            "f32",
        );
        if f16 {
            // lavapipe's f16 conversions (the views, a GPU's kernels here)
            // lose a signalling NaN's payload, which the words keep: any
            // NaN is the same NaN between the two.
            let (x, g) = (halves(&x), halves(&g));
            let (a, b) = (
                layout_bits(&one, &x, &g, shape),
                layout_bits(&other, &x, &g, shape),
            );
            same(a, b, "f16");
        }
    }
}

fn halves(v: &[f32]) -> Vec<half::f16> {
    v.iter().map(|&e| half::f16::from_f32(e)).collect()
}

/// The bits of every family's element-wise results on `gpu`, each NaN as
/// one NaN for f16, PReLU's weight gradient aside (its walk sums in an
/// order of its own).
fn layout_bits<T: crate::Element>(gpu: &Gpu, x: &[T], g: &[T], shape: &[usize]) -> Vec<Vec<u32>> {
    // A weight of its own for each channel, so that a vec4 given another
    // channel's weights changes bits.
    let weights: Vec<T> = (0..shape[1])
        .map(|c| T::from_f32(-0.125 - (c % 7) as f32 * 0.0625))
        .collect();
    let weight = gpu.upload(&weights).unwrap();
    let activations = every_family(&weight);
    let xt = gpu.upload(x).unwrap().reshape(shape).unwrap();
    let gt = gpu.upload(g).unwrap().reshape(shape).unwrap();
    let mut out = Vec::new();
    let mut keep = |t: &crate::Tensor<T>| {
        let v = gpu.download(t).unwrap();
        let bits = |e: &T| match T::SIZE {
            2 if e.is_nan() => 0x7e00,
            2 => u32::from(bytemuck::cast::<T, u16>(*e)),
            _ => bytemuck::cast::<T, u32>(*e),
        };
        out.push(v.iter().map(bits).collect());
    };
    for act in &activations {
        keep(&gpu.forward(act, &xt).unwrap());
        keep(&gpu.backward(act, &xt, &gt).unwrap().input);
        if let Ok(grads) = gpu.backward_from(act, Saved::Output(&xt), &gt) {
            keep(&grads.input);
        }
        let sum = gpu.upload(g).unwrap().reshape(shape).unwrap();
        gpu.backward_into(act, Saved::Input(&xt), &gt, GradOut::add_to(&sum))
            .unwrap();
        keep(&sum);
    }
    out
}
