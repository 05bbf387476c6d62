//! PReLU and Leaky ReLU on the shapes networks have (`--shapes`).

use wgpu_relu::{wgpu, Activation, Element, Gpu, Tensor};

use super::floor::Floor;
use super::{alternate, compare, row, wanted, Row, Timer};

/// Batched NCHW shapes of about 16M elements, channel axis 1: images of a
/// ResNet's stages, an RGB input, a dense layer's `[batch, units]`, and an
/// odd one.
const NETWORK_SHAPES: [[usize; 4]; 7] = [
    [80, 64, 56, 56],
    [80, 256, 28, 28],
    [640, 512, 7, 7],
    [111, 3, 224, 224],
    [16384, 1024, 1, 1],
    [50, 37, 99, 91],
    [4, 4096, 32, 32], // and channels-last with 4,096 channels
];

/// The shapes given as `--shape N,C,H,W` (any number of times), or else
/// [`NETWORK_SHAPES`]: a shape outside the table is timed the same way.
fn chosen_shapes() -> Vec<[usize; 4]> {
    let args: Vec<String> = std::env::args().collect();
    let given: Vec<[usize; 4]> = args
        .windows(2)
        .filter(|pair| pair[0] == "--shape")
        .map(|pair| {
            let dims: Vec<usize> = pair[1]
                .split(',')
                .map(|d| d.trim().parse().expect("--shape: N,C,H,W"))
                .collect();
            dims.try_into().expect("--shape: four dimensions, N,C,H,W")
        })
        .collect();
    match given.is_empty() {
        true => NETWORK_SHAPES.to_vec(),
        false => given,
    }
}

/// The ops timed on each shape, as their rows name them.
const OPS: [&str; 4] = [
    "prelu_forward",
    "prelu_backward_with_weight",
    "leaky_backward",
    // The input gradient alone: what the weight gradient costs is
    // `prelu_backward_with_weight`'s time less this one's.
    "prelu_input_gradient",
];

/// PReLU forward, PReLU backward with the weight gradient, Leaky ReLU
/// backward and PReLU's input gradient alone on each of the chosen shapes
/// ([`chosen_shapes`]), NCHW and channels-last (`[n, h,
/// w, c]`, the channel axis last), each against the copy of its bytes and,
/// in a row of its own, against the shader floor of the same traffic.
pub fn bench_shapes<T: Element>(
    gpu: &Gpu,
    timer: &Timer,
    trials: usize,
    rows: &mut Vec<Row>,
) -> Result<(), wgpu_relu::Error> {
    for [n, c, h, w] in chosen_shapes() {
        let layouts = [("nchw", vec![n, c, h, w], 1), ("nhwc", vec![n, h, w, c], 3)];
        // Nothing made or timed for a shape `--filter` leaves out.
        let named = |(layout, shape, _): &(&str, Vec<usize>, usize)| {
            OPS.iter()
                .any(|op| wanted(&format!("{layout}{shape:?}_{op}")))
        };
        if !layouts.iter().any(named) {
            continue;
        }
        let len = n * c * h * w;
        let host: Vec<T> = (0..len)
            .map(|i| T::from_f32(((i * 7919) % 2001) as f32 / 1000.0 - 1.0))
            .collect();
        let x = gpu.upload(&host)?;
        let g = gpu.upload(&host)?;
        let y: Tensor<T> = gpu.empty(&[len])?;
        let weight = gpu.upload(&vec![T::from_f32(0.25); c])?;
        let grad_w: Tensor<T> = gpu.empty(&[c])?;
        // The floors of this shape's traffic, in u32 words a stream.
        let words = (len * T::SIZE as usize).div_ceil(16) * 4;
        let floors = [2, 3].map(|streams| Floor::chosen(gpu, timer, trials, words, streams, rows));
        let leaky = Activation::LeakyRelu {
            negative_slope: 0.01,
        };
        for (layout, shape, axis) in layouts {
            if layout == "nhwc" && h * w == 1 {
                continue; // the dense layer has no other layout
            }
            let (x, g, y) = (x.reshape(&shape)?, g.reshape(&shape)?, y.reshape(&shape)?);
            let prelu = Activation::Prelu {
                weight: &weight,
                channel_axis: axis,
            };
            type Rec<'a> = Box<dyn Fn(&mut wgpu::CommandEncoder) + 'a>;
            let cases: Vec<(&str, u64, Rec)> = vec![
                (
                    OPS[0],
                    2,
                    Box::new(|e| gpu.encode_forward(e, &prelu, &x, &y).unwrap()),
                ),
                (
                    OPS[1],
                    3,
                    Box::new(|e| {
                        gpu.encode_backward(e, &prelu, &x, &g, &y, Some(&grad_w))
                            .unwrap()
                    }),
                ),
                (
                    OPS[2],
                    3,
                    Box::new(|e| gpu.encode_backward(e, &leaky, &x, &g, &y, None).unwrap()),
                ),
                (
                    OPS[3],
                    3,
                    Box::new(|e| gpu.encode_backward(e, &prelu, &x, &g, &y, None).unwrap()),
                ),
            ];
            for (op, streams, record) in cases {
                let name = format!("{layout}{shape:?}_{op}");
                if !wanted(&name) {
                    continue;
                }
                let copy_bytes = (streams * len as u64 * T::SIZE / 2).next_multiple_of(4);
                let bytes = (streams * len as u64 * T::SIZE) as f64;
                let times = compare(gpu, timer, trials, 4, copy_bytes, &*record);
                rows.push(row(&name, T::NAME, len, &times).moving(bytes));
                let floor = &floors[streams as usize - 2];
                let times = alternate(gpu, timer, trials, 4, &*record, &|e| floor.record(e));
                rows.push(Row {
                    against: floor.name(),
                    ..row(&name, T::NAME, len, &times).moving(bytes)
                });
            }
        }
    }
    Ok(())
}
