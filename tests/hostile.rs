//! A hostile caller's program, case by case: queues, encoders and buffers
//! of other devices, devices destroyed with and without notice, with work
//! pending. Every case must come back as an `Error` — never a panic out of
//! a library call (the test would fail), never `Ok` with the work dropped —
//! and leave nothing half-recorded in the caller's encoder.

mod common;
use common::*;
use wgpu_relu::{
    wgpu, Activation, ActivityMonitor, Error, ForwardOut, Gpu, GradOut, Mask, Saved, Tensor,
};

fn instance() -> wgpu::Instance {
    wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env())
}

fn device_of(instance: &wgpu::Instance) -> (wgpu::Device, wgpu::Queue) {
    let adapter = pollster::block_on(instance.request_adapter(&Default::default()))
        .expect("no adapter: install mesa-vulkan-drivers libvulkan1");
    pollster::block_on(adapter.request_device(&Default::default())).expect("a device")
}

/// Every kind of call on `gpu`, with tensors made before whatever broke it
/// where given; each result.
fn every_call(
    gpu: &Gpu,
    made: Option<(&Tensor<f32>, &Tensor<f32>, &Mask, &ActivityMonitor)>,
) -> Vec<wgpu_relu::Result<()>> {
    let mut results = vec![
        gpu.upload(&[1.0f32, -2.0]).map(drop),
        gpu.empty::<f32>(&[4]).map(drop),
        gpu.empty_mask(4).map(drop),
        gpu.activity_monitor(4, 0).map(drop),
    ];
    if let Some((x, y, mask, monitor)) = made {
        let leaky = Activation::LeakyRelu {
            negative_slope: 0.375,
        };
        let mut encoder = gpu.device().create_command_encoder(&Default::default());
        results.extend([
            gpu.forward(&Activation::Relu, x).map(drop),
            // A slope never seen before needs a new parameter block.
            gpu.forward(&leaky, x).map(drop),
            gpu.forward_in_place(&Activation::Relu, x),
            gpu.backward(&Activation::Relu, x, x).map(drop),
            gpu.encode_forward(&mut encoder, &Activation::Relu, x, y),
            gpu.encode_backward(&mut encoder, &leaky, x, x, y, None),
            gpu.download(x).map(drop),
            gpu.forward_with_mask(&Activation::Relu, x).map(drop),
            gpu.forward_in_place_with_mask(&leaky, x).map(drop),
            gpu.encode_forward_with_mask(&mut encoder, &Activation::Relu, x, y, mask),
            gpu.backward_from(&Activation::Relu, Saved::Mask(mask), x)
                .map(drop),
            gpu.backward_into(&leaky, Saved::Output(x), x, GradOut::add_to(y)),
            gpu.encode_backward_from(
                &mut encoder,
                &leaky,
                Saved::Mask(mask),
                x,
                GradOut::add_to(y),
            ),
            gpu.download_mask(mask).map(drop),
            gpu.forward_with_stats(&Activation::Relu, x, monitor)
                .map(drop),
            gpu.forward_into(
                &leaky,
                x,
                ForwardOut::write(x).with_mask(mask).with_stats(monitor),
            ),
            gpu.encode_forward_into(
                &mut encoder,
                &leaky,
                x,
                ForwardOut::write(y).with_stats(monitor),
            ),
            gpu.encode_reset_activity(&mut encoder, monitor),
            gpu.reset_activity(monitor),
            gpu.read_activity(monitor).map(drop),
        ]);
    }
    results
}

fn assert_all(results: &[wgpu_relu::Result<()>], is_expected: fn(&Error) -> bool, case: &str) {
    for (i, r) in results.iter().enumerate() {
        assert!(
            r.as_ref().err().is_some_and(is_expected),
            "{case}: call {i} returned {r:?}"
        );
    }
}

fn device_mismatch(e: &Error) -> bool {
    matches!(e, Error::DeviceMismatch { .. })
}

fn device_lost(e: &Error) -> bool {
    matches!(e, Error::DeviceLost(_))
}

/// A `Gpu` on one device with the queue of another: of another instance,
/// or of the same one.
fn with_foreign_queue(same_instance: bool) -> Gpu {
    let first = instance();
    let second = if same_instance {
        first.clone()
    } else {
        instance()
    };
    let (device, _queue) = device_of(&first);
    let (_other_device, other_queue) = device_of(&second);
    Gpu::from_device(device, other_queue)
}

#[test]
fn queue_of_another_instance_is_device_mismatch() {
    let gpu = with_foreign_queue(false);
    assert_all(&every_call(&gpu, None), device_mismatch, "foreign queue");
    let err = gpu.upload(&[1.0f32]).unwrap_err();
    assert!(err.to_string().contains("queue"), "{err}");
}

#[test]
fn queue_of_another_device_of_the_same_instance_is_device_mismatch() {
    let gpu = with_foreign_queue(true);
    assert_all(
        &every_call(&gpu, None),
        device_mismatch,
        "same-instance foreign queue",
    );
}

#[test]
fn queue_check_runs_when_the_probe_is_skipped() {
    // WGPU_RELU_EXACT_PRODUCTS skips the subnormal probe, not the queue check.
    std::env::set_var("WGPU_RELU_EXACT_PRODUCTS", "0");
    let gpu = with_foreign_queue(false);
    std::env::remove_var("WGPU_RELU_EXACT_PRODUCTS");
    assert_all(
        &every_call(&gpu, None),
        device_mismatch,
        "foreign queue, no probe",
    );
}

#[test]
fn device_destroyed_before_from_device_is_device_lost() {
    let (device, queue) = device_of(&instance());
    device.destroy();
    let gpu = Gpu::from_device(device, queue);
    assert_all(
        &every_call(&gpu, None),
        device_lost,
        "destroyed before from_device",
    );
}

#[test]
fn borrowed_device_destroyed_without_notice_is_device_lost() {
    let (device, queue) = device_of(&instance());
    let gpu = Gpu::from_device(device.clone(), queue);
    let x = gpu.upload(&[1.0f32, -2.0, 3.0, -4.0]).unwrap();
    let y = gpu.empty::<f32>(&[4]).unwrap();
    let (_, mask) = gpu.forward_with_mask(&Activation::Relu, &x).unwrap();
    let monitor = gpu.activity_monitor(4, 0).unwrap();
    device.destroy();
    // No notify_device_lost: the library must find out by itself.
    assert_all(
        &every_call(&gpu, Some((&x, &y, &mask, &monitor))),
        device_lost,
        "borrowed, destroyed",
    );
}

#[test]
fn owned_device_destroyed_with_work_pending_is_device_lost() {
    let gpu = Gpu::new().unwrap();
    let n = 1 << 22;
    let x = gpu.upload(&vec![-1.5f32; n]).unwrap();
    let y = gpu.empty::<f32>(&[n]).unwrap();
    let mask = gpu.empty_mask(n).unwrap();
    let monitor = gpu.activity_monitor(n, 0).unwrap();
    for _ in 0..4 {
        gpu.forward_with_stats(&Activation::Relu, &x, &monitor)
            .unwrap();
    }
    gpu.device().destroy();
    assert_all(
        &every_call(&gpu, Some((&x, &y, &mask, &monitor))),
        device_lost,
        "owned, destroyed",
    );
}

#[test]
fn encoder_of_another_device_is_device_mismatch() {
    let gpu = gpu();
    let other = Gpu::new().unwrap();
    let x = gpu.upload(&[1.0f32, -2.0, 3.0]).unwrap();
    let y = gpu.empty::<f32>(&[3]).unwrap();
    let w = gpu.upload(&[0.25f32]).unwrap();
    let gw = gpu.empty::<f32>(&[1]).unwrap();
    let prelu = Activation::Prelu {
        weight: &w,
        channel_axis: 0,
    };
    let mask = gpu.empty_mask(3).unwrap();
    let monitor = gpu.activity_monitor(3, 0).unwrap();
    let mut foreign = other.device().create_command_encoder(&Default::default());
    let results = [
        gpu.encode_forward(&mut foreign, &Activation::Relu, &x, &y),
        gpu.encode_backward(&mut foreign, &prelu, &x, &x, &y, Some(&gw)),
        gpu.encode_forward_with_mask(&mut foreign, &Activation::Relu, &x, &y, &mask),
        gpu.encode_forward_into(
            &mut foreign,
            &Activation::Relu,
            &x,
            ForwardOut::write(&y).with_stats(&monitor),
        ),
        gpu.encode_reset_activity(&mut foreign, &monitor),
        gpu.encode_backward_from(
            &mut foreign,
            &prelu,
            Saved::Input(&x),
            &x,
            GradOut::add_to(&y).with_weight(&gw),
        ),
    ];
    assert_all(&results, device_mismatch, "foreign encoder");
    // Both Gpus carry on.
    assert_eq!(
        gpu.download(&gpu.forward(&Activation::Relu, &x).unwrap())
            .unwrap(),
        [1.0, 0.0, 3.0]
    );
    let z = other.upload(&[-1.0f32]).unwrap();
    assert_eq!(
        other
            .download(&other.forward(&Activation::Relu, &z).unwrap())
            .unwrap(),
        [0.0]
    );
}

/// The weight gradient on another device (of the same wgpu instance: one
/// of another instance cannot be told apart, see the README) is found
/// before pass 1 is recorded: when the app submits its encoder anyway,
/// grad_x is untouched.
#[test]
fn nothing_is_half_recorded() {
    let instance = instance();
    let (device, queue) = device_of(&instance);
    let (other_device, _other_queue) = device_of(&instance);
    let gpu = Gpu::from_device(device, queue);
    let shape = [2, 3, 40];
    let x = gpu
        .upload(&vec![-1.0f32; 240])
        .unwrap()
        .reshape(&shape)
        .unwrap();
    let g = gpu
        .upload(&vec![2.0f32; 240])
        .unwrap()
        .reshape(&shape)
        .unwrap();
    let w = gpu.upload(&[0.5f32; 3]).unwrap();
    let prelu = Activation::Prelu {
        weight: &w,
        channel_axis: 1,
    };
    let gx = poisoned::<f32>(&gpu, &shape);
    let foreign = other_device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("another device's"),
        size: 12,
        usage: wgpu::BufferUsages::STORAGE,
        mapped_at_creation: false,
    });
    let gw = Tensor::<f32>::from_buffer(foreign, 0, &[3]).unwrap();
    let mut encoder = gpu.device().create_command_encoder(&Default::default());
    let r = gpu.encode_backward(&mut encoder, &prelu, &x, &g, &gx, Some(&gw));
    assert!(matches!(r, Err(Error::DeviceMismatch { .. })), "{r:?}");
    gpu.queue().submit([encoder.finish()]);
    assert_same(
        &gpu.download(&gx).unwrap(),
        &vec![-12345.0f32; 240],
        "grad_x after the error",
    );
}

#[test]
fn encode_forward_needs_the_same_shape_not_only_the_same_length() {
    let gpu = gpu();
    let x = gpu.upload(&[1.0f32; 6]).unwrap().reshape(&[2, 3]).unwrap();
    let y = gpu.empty::<f32>(&[3, 2]).unwrap();
    let mut encoder = gpu.device().create_command_encoder(&Default::default());
    let r = gpu.encode_forward(&mut encoder, &Activation::Relu, &x, &y);
    assert!(
        matches!(r, Err(Error::ShapeMismatch { what: "y", .. })),
        "{r:?}"
    );
    let r = gpu.encode_backward(&mut encoder, &Activation::Relu, &x, &x, &y, None);
    assert!(
        matches!(r, Err(Error::ShapeMismatch { what: "grad_x", .. })),
        "{r:?}"
    );
}
