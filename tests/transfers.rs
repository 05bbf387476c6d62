//! `upload` and `download` move every bit unchanged, at any length and any
//! element offset, by either route: through a staging buffer, or (on CPU
//! adapters, whose tensors are mappable) by mapping the tensor itself.

mod common;
use common::*;

use half::f16;
use wgpu_relu::{wgpu, Activation, Element, Error, Gpu, Tensor};

/// Every bit pattern class: NaNs with payloads, infinities, zeros of both
/// signs, subnormals, then random bits.
fn bit_patterns(rng: &mut Rng, len: usize) -> Vec<u32> {
    let edges = [
        0x7fc0_0001,
        0xffbf_ffff,
        0x7f80_0000,
        0xff80_0000,
        0x0000_0000,
        0x8000_0000,
        0x0000_0001,
        0x807f_ffff,
    ];
    (0..len)
        .map(|i| edges.get(i).copied().unwrap_or(rng.next_u64() as u32))
        .collect()
}

/// The bytes of `values`, so that NaN payloads and signed zeros compare
/// exactly.
fn bits_of<T: Element>(values: &[T]) -> Vec<u8> {
    bytemuck::cast_slice(values).to_vec()
}

fn round_trip<T: Element>(gpu: &Gpu, data: &[T]) -> Vec<T> {
    gpu.download(&gpu.upload(data).unwrap()).unwrap()
}

#[test]
fn library_tensors_are_mappable_exactly_on_cpu_adapters() {
    let gpu = gpu();
    let usage = gpu.upload(&[1.0f32]).unwrap().buffer().usage();
    let expected = gpu.adapter_info().device_type == wgpu::DeviceType::Cpu
        && gpu
            .device()
            .features()
            .contains(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS);
    assert_eq!(
        usage.contains(wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::MAP_WRITE),
        expected,
        "tensor usage {usage:?} on {:?}",
        gpu.adapter_info()
    );
    // lavapipe (the CI's Vulkan adapter) has the feature: the mapped route
    // must be the one these tests exercise there.
    if gpu.adapter_info().backend == wgpu::Backend::Vulkan
        && gpu.adapter_info().device_type == wgpu::DeviceType::Cpu
    {
        assert!(expected, "lavapipe should offer MAPPABLE_PRIMARY_BUFFERS");
    }
}

#[test]
fn every_bit_survives_a_round_trip_at_any_length() {
    let gpu = gpu();
    let mut rng = Rng::new("every_bit_survives_a_round_trip_at_any_length");
    for len in [0, 1, 2, 3, 5, 8, 9, 1001, 65_537] {
        let bits = bit_patterns(&mut rng, len);
        let data: Vec<f32> = bits.iter().map(|&b| f32::from_bits(b)).collect();
        assert_eq!(
            bits_of(&round_trip(gpu, &data)),
            bits_of(&data),
            "f32, length {len}"
        );
        if gpu.supports_f16() {
            let halves: Vec<f16> = bits.iter().map(|&b| f16::from_bits(b as u16)).collect();
            assert_eq!(
                bits_of(&round_trip(gpu, &halves)),
                bits_of(&halves),
                "f16, length {len}"
            );
        }
    }
}

/// Views into a tensor's buffer at every element offset (wrapped, so read
/// through the staging copy): `download` copies from the 4-byte boundary
/// below the view and must skip exactly the bytes before it.
#[test]
fn views_download_at_every_offset() {
    let gpu = gpu();
    let mut rng = Rng::new("views_download_at_every_offset");
    let bits = bit_patterns(&mut rng, 67);
    let data: Vec<f32> = bits.iter().map(|&b| f32::from_bits(b)).collect();
    let whole = gpu.upload(&data).unwrap();
    for offset in 0..6 {
        for len in [0, 1, 2, 3, 7, 60] {
            let view =
                Tensor::<f32>::from_buffer(whole.buffer().clone(), offset * 4, &[len]).unwrap();
            let start = offset as usize;
            assert_eq!(
                bits_of(&gpu.download(&view).unwrap()),
                bits_of(&data[start..start + len]),
                "f32 at element {offset}, length {len}"
            );
        }
    }
    if gpu.supports_f16() {
        let halves: Vec<f16> = bits.iter().map(|&b| f16::from_bits(b as u16)).collect();
        let whole = gpu.upload(&halves).unwrap();
        for offset in 0..10 {
            for len in [1, 2, 3, 5, 50] {
                let view =
                    Tensor::<f16>::from_buffer(whole.buffer().clone(), offset * 2, &[len]).unwrap();
                let start = offset as usize;
                assert_eq!(
                    bits_of(&gpu.download(&view).unwrap()),
                    bits_of(&halves[start..start + len]),
                    "f16 at element {offset}, length {len}"
                );
            }
        }
    }
}

/// A buffer the app itself has mapped cannot be read by `download`: that is
/// an error, not a panic, and once the app unmaps it `download` works.
#[test]
fn downloading_a_buffer_the_app_has_mapped_is_an_error() {
    let gpu = gpu();
    let x = gpu.upload(&[1.0f32, -2.0, 3.0]).unwrap();
    if !x.buffer().usage().contains(wgpu::BufferUsages::MAP_READ) {
        // Not mappable here: the staging route has nothing to collide with.
        // Check that route once more instead of passing silently.
        assert_eq!(gpu.download(&x).unwrap(), [1.0, -2.0, 3.0]);
        return;
    }
    x.buffer()
        .slice(..)
        .map_async(wgpu::MapMode::Read, |r| r.unwrap());
    gpu.device()
        .poll(wgpu::PollType::wait_indefinitely())
        .unwrap();
    let result = gpu.download(&x);
    assert!(
        matches!(result, Err(Error::Map(_) | Error::Validation(_))),
        "{result:?}"
    );
    x.buffer().unmap();
    assert_eq!(gpu.download(&x).unwrap(), [1.0, -2.0, 3.0]);
}

/// Threads that read one tensor at once, some by `download` (which maps it
/// on CPU adapters) and some by kernels: a kernel submitted while the
/// buffer is mapped would fail wgpu's validation.
#[test]
fn threads_download_and_read_one_tensor_at_once() {
    let gpu = gpu().clone();
    let mut rng = Rng::new("threads_download_and_read_one_tensor_at_once");
    let data = rng.values(1 << 18);
    let expected = wgpu_relu::cpu::relu(&data);
    let x = gpu.upload(&data).unwrap();
    std::thread::scope(|scope| {
        for t in 0..4 {
            let (gpu, x, data, expected) = (&gpu, &x, &data, &expected);
            scope.spawn(move || {
                for _ in 0..40 {
                    if t % 2 == 0 {
                        assert_same(&gpu.download(x).unwrap(), data, "download");
                    } else {
                        let y = gpu.forward(&Activation::Relu, x).unwrap();
                        assert_same(&gpu.download(&y).unwrap(), expected, "forward");
                    }
                }
            });
        }
    });
}

/// `download_into` fills a caller's slice, the same one call after call,
/// and a slice of the wrong length is an error that leaves it untouched.
#[test]
fn download_into_fills_a_slice_of_exactly_the_tensors_length() {
    let gpu = gpu();
    let mut rng = Rng::new("download_into_fills_a_slice_of_exactly_the_tensors_length");
    let mut out = vec![0.0f32; 1001];
    for _ in 0..3 {
        let data = rng.values(1001);
        let x = gpu.upload(&data).unwrap().reshape(&[7, 143]).unwrap();
        gpu.download_into(&x, &mut out).unwrap();
        assert_same(&out, &data, "download_into");
        // Into a wrapped view too (the staging route on every adapter).
        let view = Tensor::<f32>::from_buffer(x.buffer().clone(), 4, &[1000]).unwrap();
        gpu.download_into(&view, &mut out[..1000]).unwrap();
        assert_same(&out[..1000], &data[1..], "download_into from a view");
    }
    for wrong in [0, 1000, 1002] {
        let x = gpu.upload(&vec![1.0f32; 1001]).unwrap();
        let mut short = vec![-7.0f32; wrong];
        let err = gpu.download_into(&x, &mut short).unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch { .. }), "{err}");
        assert!(short.iter().all(|&v| v == -7.0));
    }
    let empty = gpu.upload::<f32>(&[]).unwrap();
    gpu.download_into(&empty, &mut []).unwrap();
}

/// `download_async` can be handed to a multi-threaded executor.
#[test]
fn download_future_is_send() {
    fn send<F: std::future::Future + Send>(future: F) -> F {
        future
    }
    let gpu = gpu();
    let x = gpu.upload(&[4.0f32]).unwrap();
    assert_eq!(
        pollster::block_on(send(gpu.download_async(&x))).unwrap(),
        [4.0]
    );
}

/// `download_async` polled by hand, as a single-threaded executor would:
/// nothing but the library's own thread polls the device, and the result
/// is what `download` gives, for tensors of the Gpu's own (which `download`
/// reads in place on CPU adapters) and views of them.
#[test]
fn download_async_awaits_instead_of_waiting() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let gpu = gpu();
    let data: Vec<f32> = (0..300_001).map(|i| i as f32 - 1e5).collect();
    let x = gpu.upload(&data).unwrap();
    let y = gpu.forward(&Activation::Relu, &x).unwrap();
    let view = wgpu_relu::Tensor::<f32>::from_buffer(y.buffer().clone(), 12, &[1000]).unwrap();
    for tensor in [&y, &view] {
        let blocking = gpu.download(tensor).unwrap();
        let mut future = std::pin::pin!(gpu.download_async(tensor));
        let first = future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()));
        let result = match first {
            Poll::Ready(result) => result,
            Poll::Pending => pollster::block_on(future),
        };
        assert_same(&result.unwrap(), &blocking, "download_async");
    }
}
