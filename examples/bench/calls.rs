//! Calls as an app makes them, timed by the wall clock: upload, ReLU and
//! download end to end (against copies on the device, and against the host
//! link's own time for the same bytes), the per-call overhead of a small
//! forward, and the CPU reference.

use std::time::Instant;

use wgpu_relu::{cpu, wgpu, Activation, Gpu};

use super::{row, Row, Timer};

pub fn end_to_end(
    gpu: &Gpu,
    timer: &Timer,
    trials: usize,
    host: &[f32],
    rows: &mut Vec<Row>,
) -> Result<(), wgpu_relu::Error> {
    let len = host.len();
    let copy_bytes = len as u64 * 4;
    let usage = wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
    let src = gpu.device().create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: copy_bytes,
        usage,
        mapped_at_creation: false,
    });
    let dst = gpu.device().create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: copy_bytes,
        usage,
        mapped_at_creation: false,
    });
    // The host link's own time for the same bytes: written into a buffer
    // of the device's and read back through a mappable one, with nothing
    // run between.
    let device = gpu.device();
    let buffer = |usage| {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("host link"),
            size: copy_bytes,
            usage,
            mapped_at_creation: false,
        })
    };
    let on_device = buffer(wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC);
    let readback = buffer(wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ);
    let link = || {
        let started = Instant::now();
        gpu.queue()
            .write_buffer(&on_device, 0, bytemuck::cast_slice(host));
        let mut encoder = device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(&on_device, 0, &readback, 0, copy_bytes);
        gpu.queue().submit([encoder.finish()]);
        readback
            .slice(..)
            .map_async(wgpu::MapMode::Read, |r| r.expect("map"));
        device
            .poll(wgpu::PollType::wait_indefinitely())
            .expect("poll");
        let back: Vec<f32> =
            bytemuck::cast_slice(&readback.slice(..).get_mapped_range().expect("view")).to_vec();
        readback.unmap();
        assert_eq!(back.len(), len);
        started.elapsed().as_secs_f64() * 1e3
    };
    // Each trial times the call, three copies on the device and the link,
    // in turn (wall clock for the call and the link).
    let (mut against_copies, mut against_link) = (Vec::new(), Vec::new());
    for _ in 0..trials + 1 {
        let copies = 3.0
            * timer.time(gpu, 1, &|e| {
                e.copy_buffer_to_buffer(&src, 0, &dst, 0, copy_bytes)
            });
        let link = link();
        let started = Instant::now();
        let x = gpu.upload(host)?;
        let y = gpu.forward(&Activation::Relu, &x)?;
        let out = gpu.download(&y)?;
        let call = started.elapsed().as_secs_f64() * 1e3;
        assert_eq!(out[1], 0.0);
        against_copies.push((call, copies));
        against_link.push((call, link));
    }
    let name = "end_to_end_upload_relu_download";
    rows.push(row(name, "f32", len, &against_copies));
    rows.push(Row {
        against: "host_link".into(),
        ..row(name, "f32", len, &against_link)
    });

    Ok(())
}

pub fn small_forward(gpu: &Gpu, host: &[f32], rows: &mut Vec<Row>) -> Result<(), wgpu_relu::Error> {
    // Per-call overhead: a 4,096-element forward with a new output each call,
    // against an empty submit-and-wait round trip (wall clock both). Two
    // floors beside it, from the same rounds: an empty compute pass, and one
    // workgroup of a kernel that does nothing. No call that runs a kernel
    // can beat the second.
    let device = gpu.device();
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("empty kernel"),
        source: wgpu::ShaderSource::Wgsl(
            "@group(0) @binding(0) var<storage, read_write> a: array<u32>;
            @compute @workgroup_size(256)
            fn main(@builtin(local_invocation_index) lid: u32) {
                if lid == 0xffffffffu { a[0] = 0u; }
            }"
            .into(),
        ),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("empty kernel"),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("empty kernel"),
        size: 16,
        usage: wgpu::BufferUsages::STORAGE,
        mapped_at_creation: false,
    });
    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("empty kernel"),
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[wgpu::BindGroupEntry {
            binding: 0,
            resource: buffer.as_entire_binding(),
        }],
    });
    let round_trip = |commands: Vec<wgpu::CommandBuffer>| {
        let started = Instant::now();
        gpu.queue().submit(commands);
        device
            .poll(wgpu::PollType::wait_indefinitely())
            .expect("poll");
        started.elapsed().as_secs_f64() * 1e3
    };
    let pass = |dispatch: bool| {
        let mut encoder = device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            if dispatch {
                pass.set_pipeline(&pipeline);
                pass.set_bind_group(0, &bind_group, &[]);
                pass.dispatch_workgroups(1, 1, 1);
            }
        }
        vec![encoder.finish()]
    };
    let x = gpu.upload(&host[..4096])?;
    let (mut call, mut empty_pass, mut empty_dispatch) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..201 {
        let empty = round_trip(Vec::new());
        let pass_ms = round_trip(pass(false));
        let dispatch_ms = round_trip(pass(true));
        let started = Instant::now();
        let y = gpu.forward(&Activation::Relu, &x)?;
        device
            .poll(wgpu::PollType::wait_indefinitely())
            .expect("poll");
        let call_ms = started.elapsed().as_secs_f64() * 1e3;
        drop(y);
        if round > 0 {
            call.push((call_ms, empty));
            empty_pass.push((pass_ms, empty));
            empty_dispatch.push((dispatch_ms, empty));
        }
    }
    rows.push(row(
        "small_forward_4096_vs_empty_submit",
        "f32",
        4096,
        &call,
    ));
    rows.push(row("small_floor_empty_pass", "-", 0, &empty_pass));
    rows.push(row("small_floor_empty_dispatch", "-", 0, &empty_dispatch));

    Ok(())
}

pub fn cpu_reference(rows: &mut Vec<Row>) {
    // The CPU reference, for scale.
    let big: Vec<f32> = (0..1 << 24).map(|i| (i % 200) as f32 - 100.0).collect();
    let started = Instant::now();
    let out = std::hint::black_box(cpu::relu(std::hint::black_box(&big)));
    let cpu_ms = started.elapsed().as_secs_f64() * 1e3;
    assert_eq!(out.len(), big.len());
    // Against a memcpy of the same bytes on the same CPU.
    let started = Instant::now();
    let copied = std::hint::black_box(std::hint::black_box(&big).clone());
    let memcpy_ms = started.elapsed().as_secs_f64() * 1e3;
    assert_eq!(copied.len(), big.len());
    rows.push(row(
        "cpu_reference_relu_vs_memcpy",
        "f32",
        big.len(),
        &[(cpu_ms, memcpy_ms)],
    ));
}
