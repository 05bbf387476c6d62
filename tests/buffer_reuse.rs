//! The buffers of dropped tensors serve later tensors of the same size, and
//! never one an app may still reach: handed out by `Tensor::buffer` or
//! recorded into its encoder.

mod common;
use common::*;

use wgpu_relu::{cpu, wgpu, Activation, Gpu, Tensor};

const LEAKY: Activation<'static> = Activation::LeakyRelu {
    negative_slope: 0.125,
};

/// A `Gpu` of the test's own, so that other tests' tensors do not change
/// what it keeps.
fn own_gpu() -> Gpu {
    Gpu::new().unwrap()
}

#[test]
fn a_dropped_output_serves_the_next_output_of_its_size() {
    let gpu = own_gpu();
    let mut rng = Rng::new("a_dropped_output_serves_the_next_output_of_its_size");
    let data = rng.values(1001);
    let x = gpu.upload(&data).unwrap();
    let y = gpu.forward(&Activation::Relu, &x).unwrap();
    assert_same(&gpu.download(&y).unwrap(), &cpu::relu(&data), "first");
    assert_eq!(gpu.allocations().pooled_buffers, 0);
    drop(y);
    let kept = gpu.allocations();
    assert_eq!((kept.pooled_buffers, kept.pooled_bytes), (1, 1001 * 4));
    // A different size leaves it alone; the same size takes it, and the old
    // contents (ReLU's) are all overwritten.
    let other = gpu.upload(&data[..999]).unwrap();
    let _other_y = gpu.forward(&LEAKY, &other).unwrap();
    assert_eq!(gpu.allocations().pooled_buffers, 1);
    let z = gpu.forward(&LEAKY, &x).unwrap();
    assert_eq!(gpu.allocations().pooled_buffers, 0);
    assert_same(
        &gpu.download(&z).unwrap(),
        &cpu::leaky_relu(&data, 0.125),
        "reused",
    );
}

/// PReLU's weight gradient is a reduction: its output must be written, not
/// accumulated into, or a reused buffer would add the last call's sums.
#[test]
fn gradients_into_reused_buffers_match_the_reference() {
    let gpu = own_gpu();
    let mut rng = Rng::new("gradients_into_reused_buffers_match_the_reference");
    let shape = [37, 5, 11];
    let n: usize = shape.iter().product();
    let w: Vec<f32> = rng.values(5);
    let wt = gpu.upload(&w).unwrap();
    let act = Activation::Prelu {
        weight: &wt,
        channel_axis: 1,
    };
    for round in 0..3 {
        let x = rng.values(n);
        let g = rng.values(n);
        let xt = gpu.upload(&x).unwrap().reshape(&shape).unwrap();
        let gt = gpu.upload(&g).unwrap().reshape(&shape).unwrap();
        let kept = gpu.allocations().pooled_buffers;
        let grads = gpu.backward(&act, &xt, &gt).unwrap();
        // From the second round on, both gradients take the last round's
        // buffers.
        let expected = if round == 0 { 0 } else { kept - 2 };
        assert_eq!(gpu.allocations().pooled_buffers, expected, "round {round}");
        let (gx, _) = cpu::prelu_backward(&x, &g, &shape, &w, 1).unwrap();
        assert_same(&gpu.download(&grads.input).unwrap(), &gx, "input gradient");
        let gw = gpu.download(grads.weight.as_ref().unwrap()).unwrap();
        let reference = cpu::prelu_weight_grad(&x, &g, &shape, 5, 1).unwrap();
        let scale = cpu::prelu_weight_grad_magnitude(&x, &g, &shape, 5, 1).unwrap();
        assert_close(&gw, &reference, &scale, 1e-5, "weight gradient");
    }
}

#[test]
fn a_handed_out_buffer_is_never_reused() {
    let gpu = own_gpu();
    let data: Vec<f32> = (0..64).map(|i| i as f32 - 32.0).collect();
    let x = gpu.upload(&data).unwrap();
    let y = gpu.forward(&Activation::Relu, &x).unwrap();
    let app_copy = y.buffer().clone();
    drop(y);
    assert_eq!(gpu.allocations().pooled_buffers, 0);
    let _z = gpu.forward(&LEAKY, &x).unwrap();
    let still = Tensor::<f32>::from_buffer(app_copy, 0, &[64]).unwrap();
    assert_same(&gpu.download(&still).unwrap(), &cpu::relu(&data), "app's");
}

/// An app records into its encoder, drops the output tensor, runs another op
/// of the same size, and only then submits: the recorded work must land in
/// its own buffer, not in the other op's output.
#[test]
fn a_recorded_tensor_is_never_reused() {
    let gpu = own_gpu();
    let data: Vec<f32> = (0..64).map(|i| i as f32 - 32.0).collect();
    let x = gpu.upload(&data).unwrap();
    let y = gpu.empty::<f32>(&[64]).unwrap();
    let mut encoder = gpu.device().create_command_encoder(&Default::default());
    gpu.encode_forward(&mut encoder, &Activation::Relu, &x, &y)
        .unwrap();
    drop(y);
    let z = gpu.forward(&LEAKY, &x).unwrap();
    gpu.queue().submit([encoder.finish()]);
    assert_same(
        &gpu.download(&z).unwrap(),
        &cpu::leaky_relu(&data, 0.125),
        "the library's output after the app's submission",
    );
}

#[test]
fn what_is_kept_is_bounded_and_can_be_released() {
    let gpu = own_gpu();
    let tensors: Vec<Tensor> = (1..=40).map(|n| gpu.empty(&[n * 16]).unwrap()).collect();
    drop(tensors);
    let kept = gpu.allocations();
    assert_eq!(kept.pooled_buffers, 32, "{kept:?}");
    // The oldest went first: sizes 9..=40 (× 16 floats) are kept.
    assert_eq!(kept.pooled_bytes, (9..=40).map(|n| n * 64).sum::<u64>());
    gpu.release_kept_buffers();
    let released = gpu.allocations();
    assert_eq!((released.pooled_buffers, released.pooled_bytes), (0, 0));
}

/// Where tensors are mappable, an upload writes into a kept buffer once the
/// work that used it is done, and never before: the forward submitted just
/// before must still read the old data. Elsewhere uploads are not kept.
#[test]
fn uploads_reuse_buffers_only_where_tensors_are_mappable() {
    let gpu = own_gpu();
    let mut rng = Rng::new("uploads_reuse_buffers_only_where_tensors_are_mappable");
    let mappable = gpu
        .upload(&[0.0f32])
        .unwrap()
        .buffer()
        .usage()
        .contains(wgpu::BufferUsages::MAP_WRITE);
    let len = 1 << 22;
    for round in 0..4 {
        let old = rng.values(len);
        let x = gpu.upload(&old).unwrap();
        let y = gpu.forward(&Activation::Relu, &x).unwrap();
        drop(x);
        // The forward may still be running: the upload must not map its
        // input now (it takes a fresh buffer instead, or waits for none).
        let new = rng.values(len);
        let x2 = gpu.upload(&new).unwrap();
        assert_same(&gpu.download(&y).unwrap(), &cpu::relu(&old), "forward");
        assert_same(&gpu.download(&x2).unwrap(), &new, "upload");
        drop((y, x2));
        let kept = gpu.allocations().pooled_buffers;
        // Where uploads reuse, a third upload of the size takes a kept
        // buffer, the work on them being done.
        let x3 = gpu.upload(&new).unwrap();
        assert_same(
            &gpu.download(&x3).unwrap(),
            &new,
            "upload into a kept buffer",
        );
        let after = gpu.allocations().pooled_buffers;
        if mappable {
            assert_eq!(after, kept - 1, "round {round}: {kept} kept before");
        } else {
            assert_eq!(after, kept, "round {round}: an upload took a kept buffer");
            assert_eq!(kept, 1, "round {round}: only the output is kept");
        }
    }
}
