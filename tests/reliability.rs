//! Under load, faults and hostile input the library keeps working, loses
//! nothing and never panics: threads sharing one Gpu, several Gpus on one
//! device, a long soak watching memory, a fuzzer over the public API, and a
//! device destroyed mid-run.

mod common;
use common::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

use std::time::{Duration, Instant};
use wgpu_relu::{
    cpu, wgpu, Activation, Error, ForwardOut, Gpu, GradOut, Mask, RreluMode, Saved, Tensor,
};

/// One round of mixed ops on fresh data, every result checked.
fn mixed_round(gpu: &Gpu, rng: &mut Rng, round: usize) {
    let len = 1 + rng.below(3000) as usize;
    let x = rng.values(len);
    let g = rng.values(len);
    let xt = gpu.upload(&x).unwrap();
    let gt = gpu.upload(&g).unwrap();
    match round % 5 {
        0 => {
            let y = gpu.forward(&Activation::Relu, &xt).unwrap();
            assert_same(&gpu.download(&y).unwrap(), &cpu::relu(&x), "relu");
        }
        1 => {
            let act = Activation::LeakyRelu {
                negative_slope: 0.1,
            };
            gpu.forward_in_place(&act, &xt).unwrap();
            assert_same(
                &gpu.download(&xt).unwrap(),
                &cpu::leaky_relu(&x, 0.1),
                "leaky in place",
            );
        }
        2 => {
            let grads = gpu.backward(&Activation::Relu, &xt, &gt).unwrap();
            assert_same(
                &gpu.download(&grads.input).unwrap(),
                &cpu::relu_backward(&x, &g),
                "relu backward",
            );
        }
        3 => {
            let w = [0.25f32];
            let wt = gpu.upload(&w).unwrap();
            let act = Activation::Prelu {
                weight: &wt,
                channel_axis: 0,
            };
            let y = gpu.forward(&act, &xt).unwrap();
            assert_same(
                &gpu.download(&y).unwrap(),
                &cpu::prelu(&x, &[len], &w, 0).unwrap(),
                "prelu",
            );
        }
        _ => {
            let w = [0.5f32, -0.25, 2.0];
            let n = len / 3 * 3;
            let shape = [n / 3, 3];
            let xs = gpu.upload(&x[..n]).unwrap().reshape(&shape).unwrap();
            let gs = gpu.upload(&g[..n]).unwrap().reshape(&shape).unwrap();
            let wt = gpu.upload(&w).unwrap();
            let act = Activation::Prelu {
                weight: &wt,
                channel_axis: 1,
            };
            let grads = gpu.backward(&act, &xs, &gs).unwrap();
            let (gx, _) = cpu::prelu_backward(&x[..n], &g[..n], &shape, &w, 1).unwrap();
            assert_same(&gpu.download(&grads.input).unwrap(), &gx, "prelu backward");
            let gw = gpu.download(grads.weight.as_ref().unwrap()).unwrap();
            let reference = cpu::prelu_weight_grad(&x[..n], &g[..n], &shape, 3, 1).unwrap();
            let scale = cpu::prelu_weight_grad_magnitude(&x[..n], &g[..n], &shape, 3, 1).unwrap();
            assert_close(&gw, &reference, &scale, 1e-5, "prelu weight gradient");
        }
    }
}

#[test]
fn eight_threads_share_one_gpu() {
    let gpu = gpu().clone();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let gpu = gpu.clone();
            std::thread::spawn(move || {
                let mut rng = Rng::from_seed(0x1234_5678 + t);
                for round in 0..200 {
                    mixed_round(&gpu, &mut rng, round + t as usize);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a thread failed");
    }
}

#[test]
fn several_gpus_on_one_device_at_once() {
    let base = gpu();
    let gpus: Vec<Gpu> = (0..3)
        .map(|_| Gpu::from_device(base.device().clone(), base.queue().clone()))
        .collect();
    let threads: Vec<_> = gpus
        .into_iter()
        .enumerate()
        .map(|(i, gpu)| {
            std::thread::spawn(move || {
                let mut rng = Rng::from_seed(0xabcd + i as u64);
                for round in 0..100 {
                    mixed_round(&gpu, &mut rng, round);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a thread failed");
    }
}

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(0)
        * 4096
}

/// 10,000 mixed calls; memory and the library's own buffers stay flat after
/// a warm-up.
#[test]
fn soak_ten_thousand_calls() {
    let gpu = Gpu::new().unwrap();
    let mut rng = Rng::new("soak");
    let x = rng.values(4096);
    let xt = gpu.upload(&x).unwrap();
    let w = gpu.upload(&[0.25f32, 0.5, 0.75, 1.0]).unwrap();
    let call = |i: usize| {
        let n = 1 + (i * 7919) % 4096; // many distinct sizes: the parameter cache must stay bounded
        let t = Tensor::<f32>::from_buffer(xt.buffer().clone(), 0, &[n]).unwrap();
        match i % 4 {
            0 => drop(gpu.forward(&Activation::Relu, &t).unwrap()),
            1 => drop(
                gpu.forward(
                    &Activation::LeakyRelu {
                        negative_slope: 0.01,
                    },
                    &t,
                )
                .unwrap(),
            ),
            2 => drop(gpu.backward(&Activation::Relu, &t, &t).unwrap()),
            _ => {
                let t = Tensor::<f32>::from_buffer(xt.buffer().clone(), 0, &[n / 4 * 4 / 4, 4])
                    .unwrap();
                drop(
                    gpu.backward(
                        &Activation::Prelu {
                            weight: &w,
                            channel_axis: 1,
                        },
                        &t,
                        &t,
                    )
                    .unwrap(),
                );
            }
        }
        if i % 100 == 99 {
            let y = gpu.forward(&Activation::Relu, &xt).unwrap();
            assert_same(&gpu.download(&y).unwrap(), &cpu::relu(&x), "soak check");
        }
    };
    for i in 0..2000 {
        call(i);
    }
    gpu.device()
        .poll(wgpu::PollType::wait_indefinitely())
        .unwrap();
    let warm = resident_bytes();
    let warm_allocations = gpu.allocations();
    let warm_live = live_objects(&gpu);
    for i in 2000..10_000 {
        call(i);
    }
    gpu.device()
        .poll(wgpu::PollType::wait_indefinitely())
        .unwrap();
    let end = resident_bytes();
    let allocations = gpu.allocations();
    let live = live_objects(&gpu);
    eprintln!(
        "soak: RSS after warm-up {} KiB, after 10,000 calls {} KiB; library buffers {:?} -> {:?}; \
         device (buffers, bind groups, buffer bytes) {:?} -> {:?}",
        warm / 1024,
        end / 1024,
        warm_allocations,
        allocations,
        warm_live,
        live
    );
    // Live objects: at most the parameter cache's churn apart.
    assert!(
        live.0 <= warm_live.0 + 1100,
        "live buffers grew: {warm_live:?} -> {live:?}"
    );
    assert!(
        live.1 <= warm_live.1 + 16,
        "live bind groups grew: {warm_live:?} -> {live:?}"
    );
    assert!(
        allocations.params_buffers <= 1024,
        "parameter cache is bounded"
    );
    assert!(allocations.scratch_buffers <= 1);
    assert!(allocations.table_buffers <= 1);
    assert!(
        end < warm + (64 << 20),
        "RSS grew from {warm} to {end} bytes"
    );
}

/// Live buffers, bind groups and buffer bytes on the device, from wgpu's
/// internal counters (zero where the backend keeps none).
fn live_objects(gpu: &Gpu) -> (isize, isize, isize) {
    let hal = gpu.device().get_internal_counters().hal;
    (
        hal.buffers.read(),
        hal.bind_groups.read(),
        hal.buffer_memory.read(),
    )
}

/// Hostile calls through the public API, drawn by proptest: every one
/// returns a correct result or an Error, none panics, and the Gpu still
/// works after each.
#[test]
fn fuzz_the_public_api() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let gpu = gpu();
    let other = Gpu::new().unwrap();
    let foreign = other.upload(&[1.0f32; 64]).unwrap();
    let usages = [
        wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        wgpu::BufferUsages::STORAGE,
        wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
    ];
    let slope = prop_oneof![
        Just(f32::NAN),
        Just(f32::INFINITY),
        Just(f32::NEG_INFINITY),
        Just(f32::from_bits(1)),
        Just(0.0f32),
        -1e30f32..1e30,
    ];
    // Shape (rank 1 to 4, dims 0 to 5), buffer size, usage, offset (usually
    // element-aligned), slope, channel axis, weight length, which call.
    let case = (
        prop::collection::vec(0usize..6, 1..=4),
        1u64..200,
        prop_oneof![4 => Just(0usize), 1 => 1usize..4],
        prop_oneof![3 => (0u64..200).prop_map(|k| 4 * k), 1 => 0u64..808],
        slope,
        0usize..6,
        0usize..7,
        0usize..11,
    );
    let (ok, errors) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    let mut runner = TestRunner::new(Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(
        &case,
        |(shape, words, usage, offset, slope, axis, weight_len, pick)| {
            let len: usize = shape.iter().product();
            let buffer = gpu.device().create_buffer(&wgpu::BufferDescriptor {
                label: Some("fuzz"),
                size: 4 * words,
                usage: usages[usage],
                mapped_at_creation: false,
            });
            let host = rng_values(words as usize, len);
            let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<(), Error> {
                let x = Tensor::<f32>::from_buffer(buffer.clone(), offset, &shape)?;
                let y = gpu.upload(&host)?.reshape(&shape)?;
                let w = gpu.upload(&vec![0.5f32; weight_len])?;
                let act = match pick % 4 {
                    0 => Activation::Relu,
                    1 => Activation::LeakyRelu {
                        negative_slope: slope,
                    },
                    3 => Activation::Rrelu {
                        lower: slope,
                        upper: 0.5,
                        mode: RreluMode::Training {
                            seed: pick as u64,
                            stream: 7,
                        },
                    },
                    _ => Activation::Prelu {
                        weight: &w,
                        channel_axis: axis,
                    },
                };
                let mut encoder = gpu.device().create_command_encoder(&Default::default());
                match pick {
                    0 | 1 => gpu.encode_forward(&mut encoder, &act, &y, &x)?,
                    2 => gpu.encode_backward(&mut encoder, &act, &y, &x, &y, None)?,
                    3 => drop(gpu.forward(&act, &x)?),
                    4 => drop(gpu.backward(&act, &y, &foreign)?),
                    // The training forms, over the hostile buffer as a mask.
                    6 => {
                        let mask = Mask::from_buffer(buffer.clone(), offset, len)?;
                        gpu.encode_forward_with_mask(&mut encoder, &act, &y, &y, &mask)?
                    }
                    7 => drop(gpu.backward_from(&act, Saved::Output(&x), &y)?),
                    8 => {
                        let mask = Mask::from_buffer(buffer.clone(), offset, len)?;
                        gpu.backward_into(&act, Saved::Mask(&mask), &y, GradOut::add_to(&y))?
                    }
                    // The statistics, a monitor of any channel count and
                    // axis, over the hostile buffer.
                    10 => {
                        let monitor = gpu.activity_monitor(weight_len.max(1), axis)?;
                        let out = ForwardOut::write(&y).with_stats(&monitor);
                        gpu.encode_forward_into(&mut encoder, &act, &x, out)?;
                        drop(gpu.read_activity(&monitor)?)
                    }
                    9 => {
                        let (_, mask) = gpu.forward_with_mask(&act, &x)?;
                        let out = GradOut::add_to(&y).with_weight(&w);
                        gpu.encode_backward_from(&mut encoder, &act, Saved::Mask(&mask), &x, out)?
                    }
                    _ => {
                        let out = gpu.forward(&act, &y)?;
                        let expected = match act {
                            Activation::Relu => cpu::relu(&host),
                            Activation::LeakyRelu { negative_slope } => {
                                cpu::leaky_relu(&host, negative_slope)
                            }
                            Activation::Prelu { .. } => {
                                cpu::prelu(&host, &shape, &vec![0.5; weight_len], axis)?
                            }
                            Activation::Rrelu { lower, upper, .. } => {
                                let slopes =
                                    cpu::rrelu_slopes(0, len, lower, upper, pick as u64, 7)?;
                                cpu::rrelu_with_slopes(&host, &slopes)
                            }
                        };
                        assert_same(&gpu.download(&out)?, &expected, "fuzz: a valid call");
                    }
                }
                gpu.queue().submit([encoder.finish()]);
                Ok(())
            }));
            match outcome {
                Ok(Ok(())) => ok.set(ok.get() + 1),
                Ok(Err(_)) => errors.set(errors.get() + 1),
                Err(_) => return Err(TestCaseError::fail("the call panicked")),
            }
            // The next valid call still works.
            let probe = gpu.upload(&[-1.0f32, 1.0]).unwrap();
            let y = gpu.forward(&Activation::Relu, &probe).unwrap();
            prop_assert_eq!(gpu.download(&y).unwrap(), vec![0.0, 1.0]);
            Ok(())
        },
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    let (ok, errors) = (ok.get(), errors.get());
    eprintln!(
        "fuzz: {} cases, {ok} ran, {errors} returned an Error, none panicked",
        ok + errors
    );
    assert!(
        ok > 0 && errors > 0,
        "the fuzzer should reach both outcomes"
    );
}

fn rng_values(case: usize, len: usize) -> Vec<f32> {
    Rng::from_seed(case as u64 * 0x9e37).values(len)
}

/// After device.destroy() every call returns an Error promptly; a new Gpu
/// takes over.
#[test]
fn destroyed_device_gives_errors_not_panics_or_hangs() {
    let gpu = Gpu::new().unwrap();
    let x = gpu.upload(&[1.0f32, -1.0, 2.0]).unwrap();
    let y = gpu.forward(&Activation::Relu, &x).unwrap();
    assert_eq!(gpu.download(&y).unwrap(), vec![1.0, 0.0, 2.0]);
    gpu.device().destroy();
    let (sender, receiver) = std::sync::mpsc::channel();
    let lost = gpu.clone();
    let worker = std::thread::spawn(move || {
        let started = Instant::now();
        let results = vec![
            lost.upload(&[1.0f32]).map(|_| ()),
            lost.forward(&Activation::Relu, &x).map(|_| ()),
            lost.forward_in_place(&Activation::Relu, &x),
            lost.backward(&Activation::Relu, &x, &x).map(|_| ()),
            lost.download(&y).map(|_| ()),
        ];
        let _ = sender.send((results, started.elapsed()));
    });
    let (results, took) = receiver
        .recv_timeout(Duration::from_secs(30))
        .expect("calls on a lost device hung");
    worker.join().expect("calls on a lost device panicked");
    for (i, r) in results.iter().enumerate() {
        assert!(
            matches!(r, Err(Error::DeviceLost(_))),
            "call {i} on a destroyed device: {r:?}"
        );
    }
    eprintln!(
        "destroyed device: 5 calls returned errors in {took:?}: {:?}",
        results
            .iter()
            .map(|r| r.as_ref().unwrap_err().to_string())
            .collect::<Vec<_>>()
    );
    // An app's own device reports its loss through notify_device_lost.
    let (device, queue) = fresh_device();
    let borrowed = Gpu::from_device(device, queue);
    borrowed.notify_device_lost("the app's device-lost callback fired");
    assert!(matches!(
        borrowed.upload(&[1.0f32]),
        Err(Error::DeviceLost(_))
    ));

    let fresh = Gpu::new().unwrap();
    let x = fresh.upload(&[-3.0f32, 3.0]).unwrap();
    assert_eq!(
        fresh
            .download(&fresh.forward(&Activation::Relu, &x).unwrap())
            .unwrap(),
        vec![0.0, 3.0]
    );
}

fn fresh_device() -> (wgpu::Device, wgpu::Queue) {
    let gpu = Gpu::new().unwrap();
    (gpu.device().clone(), gpu.queue().clone())
}

/// `Gpu`, `Tensor` and `Error` cross threads; checked at compile time.
#[test]
fn public_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Gpu>();
    send_sync::<Tensor<f32>>();
    send_sync::<Tensor<half::f16>>();
    send_sync::<Error>();
    send_sync::<wgpu_relu::Gradients>();
    send_sync::<Mask>();
    send_sync::<wgpu_relu::ActivityMonitor>();
    send_sync::<wgpu_relu::ActivityStats>();
    send_sync::<ForwardOut<'static>>();
}
