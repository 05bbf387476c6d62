//! `GpuOptions`: the exact-products choice in code, for a device the
//! library makes and for an app's own; features and limits requested.

mod common;
use common::*;
use wgpu_relu::{wgpu, Activation, ExactProducts, Gpu, GpuOptions};

fn app_device() -> (wgpu::Device, wgpu::Queue) {
    let gpu = gpu();
    (gpu.device().clone(), gpu.queue().clone())
}

#[test]
fn exact_products_set_in_code() {
    // (This binary never sets WGPU_RELU_EXACT_PRODUCTS, which would win.)
    assert!(std::env::var("WGPU_RELU_EXACT_PRODUCTS").is_err());
    for (choice, exact) in [(ExactProducts::Always, true), (ExactProducts::Never, false)] {
        let options = GpuOptions::default().exact_products(choice);
        let (device, queue) = app_device();
        let borrowed = Gpu::from_device_with_options(device, queue, &options);
        assert_eq!(borrowed.exact_products(), exact, "{choice:?}, borrowed");
        let owned = Gpu::with_options(options).unwrap();
        assert_eq!(owned.exact_products(), exact, "{choice:?}, owned");
        // Either path gives the reference's bits on this adapter.
        let x = edge_values();
        let op = Op::Leaky(0.375);
        check_forward(&owned, &op, &x, &[x.len()]);
    }
    // The probe, by default: lavapipe and llvmpipe keep subnormals.
    let probed = Gpu::with_options(GpuOptions::default()).unwrap();
    assert!(
        !probed.exact_products(),
        "software adapters do not flush subnormals"
    );
}

#[test]
fn features_and_limits_are_requested() {
    let limits = wgpu::Limits {
        max_storage_buffer_binding_size: 1 << 20,
        ..wgpu::Limits::default()
    };
    let gpu = Gpu::with_options(GpuOptions::default().limits(limits)).unwrap();
    assert_eq!(
        gpu.device().limits().max_storage_buffer_binding_size,
        1 << 20
    );
    // Three bindings' worth of elements still runs, in chunks.
    let n = 3 << 18;
    let x = gpu.upload(&vec![-1.0f32; n]).unwrap();
    let y = gpu.forward(&Activation::Relu, &x).unwrap();
    assert_same(
        &gpu.download(&y).unwrap(),
        &vec![0.0f32; n],
        "relu over 1 MiB bindings",
    );
    // A feature the adapter lacks is the device request's error.
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter = pollster::block_on(instance.request_adapter(&Default::default())).unwrap();
    let missing = wgpu::Features::all() - adapter.features();
    if let Some(feature) = missing.iter().next() {
        let r = Gpu::with_options(GpuOptions::default().features(feature));
        assert!(
            matches!(r, Err(wgpu_relu::Error::RequestDevice(_))),
            "{feature:?}: {r:?}"
        );
    }
}
