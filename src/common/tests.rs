//! The sign tests as float compares (FLOAT_COMPARES, on lavapipe) and as
//! bit tests give the same bits in every family's kernels.

use crate::{wgpu, Activation, Gpu, RreluMode, Saved};

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
        let activations = [
            Activation::Relu,
            Activation::LeakyRelu {
                negative_slope: 0.125,
            },
            Activation::Prelu {
                weight: &weight,
                channel_axis: 1,
            },
            Activation::Rrelu {
                lower: 0.125,
                upper: 1.0 / 3.0,
                mode: RreluMode::Training { seed: 7, stream: 1 },
            },
        ];
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
