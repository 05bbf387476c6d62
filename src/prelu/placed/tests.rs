//! The walks' kernels of one kind of adapter against the other's.

use half::f16;

use crate::{cpu, Activation, Element, Gpu, GradOut, Saved};

/// The barriers between the columns walk's rows (a software
/// rasteriser's) change the scheduling only: the kernels of the other
/// kind of adapter give the same bits, forward, input gradient and
/// weight gradient, for each way the walk finds its lanes' weights.
#[test]
fn row_barriers_change_no_bit() {
    let one = Gpu::new().unwrap();
    let other = one.with_engine_changed(|e| e.set_cpu_adapter(!one.engine().cpu_adapter()));
    assert_ne!(one.engine().cpu_adapter(), other.engine().cpu_adapter());
    // Four channels per vec4 (the weights' own vec4s), 37 channels (a
    // row of lane weights; the tensor's last vec4 partial), rows too
    // long for the row (weights found in the walk), runs of 7; rows of
    // partials far apart, which the fold and pass 2 then read a row at a
    // time (runs of 65 in 64 channels; 2,000 and 4,096 channels). A
    // software rasteriser's invocations take two columns where a
    // workgroup holds the row: 37 channels' partial last vec4 lies in an
    // invocation's second column, 3 channels' in the lone column of a
    // row of 255.
    let shapes: [&[usize]; 10] = [
        &[1000, 64],
        &[385, 37],
        &[4419, 3],
        &[8, 65537],
        &[300, 4, 7],
        &[40, 2000],
        &[20, 4096],
        &[37, 1002],
        &[33, 3000],
        &[260, 64, 65],
    ];
    for shape in shapes {
        let n: usize = shape.iter().product();
        let c = shape[1];
        let x: Vec<f32> = (0..n)
            .map(|i| (i * 7919 % 2003) as f32 / 1001.0 - 1.0)
            .collect();
        let g: Vec<f32> = (0..n)
            .map(|i| (i * 104_729 % 1999) as f32 / 999.0 - 1.0)
            .collect();
        let w: Vec<f32> = (0..c).map(|i| i as f32 / c as f32 - 0.5).collect();
        let bits = |gpu: &Gpu| {
            prelu_outputs(gpu, &x, &g, &w, shape)
                .map(|v| v.iter().map(|e| e.to_bits()).collect::<Vec<_>>())
        };
        assert_eq!(bits(&one), bits(&other), "{shape:?}");
    }
}

/// f16 as u32 words (a CPU adapter's walks) against the reference and
/// the f16 views (a GPU's): forward, input gradient and weight gradient,
/// overwriting and added to, for each way the walk finds its lanes'
/// weights, whole and ragged runs and the tensor's partial last vec4, with
/// x and g running through every f16 bit pattern (NaNs with payloads,
/// zeros of both signs, infinities, subnormals). The words keep a NaN's
/// payload as the reference does, to the bit; lavapipe's own f16
/// conversions lose a signalling NaN's, so against the views any NaN is
/// the same NaN. The weight gradient sums in the walk's order, the same
/// in both.
#[test]
fn f16_words_match_the_reference_and_the_views() {
    let one = Gpu::new().unwrap();
    if !one.device().features().contains(wgpu::Features::SHADER_F16) {
        return; // No f16 tensors on this adapter.
    }
    let other = one.with_engine_changed(|e| e.set_cpu_adapter(!one.engine().cpu_adapter()));
    let (words, views) = match one.engine().cpu_adapter() {
        true => (&one, &other),
        false => (&other, &one),
    };
    let shapes: [&[usize]; 6] = [
        &[1000, 64],
        &[385, 37],
        &[8, 65537],
        &[300, 4, 7],
        &[2, 3, 8191],
        &[4, 3, 3000],
    ];
    for shape in shapes {
        let n: usize = shape.iter().product();
        let c = shape[1];
        let pattern = |i: usize, k: usize| f16::from_bits((i * k % 65536) as u16);
        let x: Vec<f16> = (0..n).map(|i| pattern(i, 7919)).collect();
        let g: Vec<f16> = (0..n).map(|i| pattern(i + 12345, 40503)).collect();
        let w: Vec<f16> = (0..c)
            .map(|i| f16::from_f32(i as f32 / c as f32 - 0.5))
            .collect();
        // y, grad_x, grad_w, and grad_x and grad_w added to g's and w's
        // values.
        let run = |gpu: &Gpu| {
            let [y, grad_x, grad_w] = prelu_outputs(gpu, &x, &g, &w, shape);
            let weight = gpu.upload(&w).unwrap();
            let prelu = Activation::Prelu {
                weight: &weight,
                channel_axis: 1,
            };
            let xt = gpu.upload(&x).unwrap().reshape(shape).unwrap();
            let gt = gpu.upload(&g).unwrap().reshape(shape).unwrap();
            let (gx, gw) = (gpu.upload(&g).unwrap(), gpu.upload(&w).unwrap());
            let gx = gx.reshape(shape).unwrap();
            let out = GradOut::add_to(&gx).with_weight(&gw);
            gpu.backward_into(&prelu, Saved::Input(&xt), &gt, out)
                .unwrap();
            let [gx, gw] = [&gx, &gw].map(|t| gpu.download(t).unwrap());
            [y, grad_x, grad_w, gx, gw]
        };
        let bits = |v: &[f16]| v.iter().map(|e| e.to_bits()).collect::<Vec<_>>();
        let any_nan = |v: &[f16]| {
            v.iter()
                .map(|e| if e.is_nan() { 0x7e00 } else { e.to_bits() })
                .collect::<Vec<_>>()
        };
        let (a, b) = (run(words), run(views));
        let y = cpu::prelu(&x, shape, &w, 1).unwrap();
        let grad_x = cpu::prelu_backward(&x, &g, shape, &w, 1).unwrap().0;
        let added = cpu::accumulate(&g, &grad_x);
        for (k, expected) in [(0, &y), (1, &grad_x), (3, &added)] {
            assert_eq!(bits(&a[k]), bits(expected), "{shape:?}: output {k}");
        }
        for k in 0..5 {
            assert_eq!(any_nan(&a[k]), any_nan(&b[k]), "{shape:?}: output {k}");
        }
    }
    let name = super::WORDS_MODULE.name;
    assert!(words.engine().built(name) && !views.engine().built(name));
}

/// PReLU over `shape`, channel axis 1, on `gpu`: the forward, the input
/// gradient and the weight gradient of x, g and the weight w.
fn prelu_outputs<T: Element>(gpu: &Gpu, x: &[T], g: &[T], w: &[T], shape: &[usize]) -> [Vec<T>; 3] {
    let weight = gpu.upload(w).unwrap();
    let prelu = Activation::Prelu {
        weight: &weight,
        channel_axis: 1,
    };
    let xt = gpu.upload(x).unwrap().reshape(shape).unwrap();
    let gt = gpu.upload(g).unwrap().reshape(shape).unwrap();
    let y = gpu.forward(&prelu, &xt).unwrap();
    let grads = gpu.backward(&prelu, &xt, &gt).unwrap();
    let grad_w = grads.weight.unwrap();
    [&y, &grads.input, &grad_w].map(|t| gpu.download(t).unwrap())
}
