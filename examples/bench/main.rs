//! Times every op against `copy_buffer_to_buffer` of the same bytes moved,
//! on this machine's adapter, in the same run.
//!
//! ```text
//! cargo run --release --example bench -- [--json] [--quick] [--shapes] [--filter OP_SUBSTRING]
//!     [--lens N,N,...] [--tuned-floor] [--shape N,C,H,W]...
//!     [--dtype f32|f16]
//! ```
//!
//! `--shapes` adds PReLU and Leaky ReLU on the shapes networks have (batched
//! NCHW, channels-last, a dense layer, an odd one), about 16M elements each;
//! `--shape N,C,H,W`, given once or more, times those shapes instead, each
//! NCHW and channels-last (`[N, H, W, C]`). `--dtype f32` or `f16` times
//! that element type alone.
//! `--lens` sets the main table's lengths in elements (1M and 16M; 1M with
//! `--quick`), such as 268435456 for a data-centre GPU's 256M, each rounded
//! down to a multiple of 65,536.
//! `--tuned-floor` holds every op to the fastest of several copy-only
//! geometries instead of the library's own (`floor.rs`), as a GPU's ops are.
//! Rows that move a known number of bytes say how fast, in GB/s.
//!
//! Each op and the copy are timed alternately, trial after trial, so drift
//! hits both alike; each trial records `REPS` back-to-back dispatches in one
//! submission, timed with timestamp queries where the adapter has them
//! inside encoders, else by the wall clock around submit-and-wait. The table
//! reports medians per op. Each op of the main table is then timed again,
//! alternately with the shader floor of its whole streams (`floor.rs`; a
//! mask's or the statistics' bits are not a stream), in a row of its own.

use std::time::Instant;

use wgpu_relu::{
    half::f16, wgpu, Activation, Element, ForwardOut, Gpu, GradOut, RreluMode, Saved, Tensor,
};

#[path = "calls.rs"]
mod calls;
#[path = "floor.rs"]
mod floor;
#[path = "shapes.rs"]
mod shapes;

use floor::Floor;

const CHANNELS: usize = 64;
/// Elements of a 32x32 image of `CHANNELS` channels: the main table's
/// lengths are multiples of it.
const IMAGES: usize = CHANNELS * 1024;

struct Row {
    op: String,
    dtype: &'static str,
    len: usize,
    ms: f64,
    /// What it is timed against: `copy` (copy_buffer_to_buffer of the
    /// bytes it moves), or another op on the same tensor.
    against: String,
    copy_ms: f64,
    /// The median of each trial's op time over the copy timed just before
    /// it: pairs cancel the machine's drift better than a ratio of medians.
    ratio: f64,
    /// Bytes the op moves (0: not counted), for its GB/s.
    bytes: f64,
}

impl Row {
    /// The row of an op that moves `bytes`.
    fn moving(self, bytes: f64) -> Row {
        Row { bytes, ..self }
    }

    /// GB/s at the median time, where the bytes are known.
    fn gb_per_s(&self) -> Option<f64> {
        (self.bytes > 0.0 && self.ms > 0.0).then(|| self.bytes / (self.ms * 1e6))
    }
}

/// Back-to-back dispatches per trial over `len` units: enough that the gaps
/// between submissions do not count, few enough to finish on a CPU adapter.
fn reps(len: usize) -> usize {
    ((1 << 26) / len.max(1)).clamp(4, 64)
}

/// Medians of a series of (op, copy) trials.
fn row(op: &str, dtype: &'static str, len: usize, trials: &[(f64, f64)]) -> Row {
    Row {
        op: op.into(),
        dtype,
        len,
        against: "copy".into(),
        ms: median(trials.iter().map(|t| t.0).collect()),
        copy_ms: median(trials.iter().map(|t| t.1).collect()),
        ratio: median(trials.iter().map(|t| t.0 / t.1).collect()),
        bytes: 0.0,
    }
}

struct Timer {
    query: Option<(wgpu::QuerySet, wgpu::Buffer, wgpu::Buffer, f64)>,
}

impl Timer {
    fn new(gpu: &Gpu) -> Self {
        let features = gpu.device().features();
        let query = features
            .contains(wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS)
            .then(|| {
                let set = gpu.device().create_query_set(&wgpu::QuerySetDescriptor {
                    label: Some("bench"),
                    ty: wgpu::QueryType::Timestamp,
                    count: 2,
                });
                let resolve = gpu.device().create_buffer(&wgpu::BufferDescriptor {
                    label: None,
                    size: 16,
                    usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                    mapped_at_creation: false,
                });
                let read = gpu.device().create_buffer(&wgpu::BufferDescriptor {
                    label: None,
                    size: 16,
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                (
                    set,
                    resolve,
                    read,
                    f64::from(gpu.queue().get_timestamp_period()),
                )
            });
        Self { query }
    }

    fn method(&self) -> &'static str {
        if self.query.is_some() {
            "timestamp queries"
        } else {
            "wall clock around submit + wait"
        }
    }

    /// Milliseconds per repetition of `record`, run `reps` times in one submission.
    fn time(&self, gpu: &Gpu, reps: usize, record: &dyn Fn(&mut wgpu::CommandEncoder)) -> f64 {
        let mut encoder = gpu.device().create_command_encoder(&Default::default());
        if let Some((set, ..)) = &self.query {
            encoder.write_timestamp(set, 0);
        }
        for _ in 0..reps {
            record(&mut encoder);
        }
        if let Some((set, resolve, read, _)) = &self.query {
            encoder.write_timestamp(set, 1);
            encoder.resolve_query_set(set, 0..2, resolve, 0);
            encoder.copy_buffer_to_buffer(resolve, 0, read, 0, 16);
        }
        let started = Instant::now();
        gpu.queue().submit([encoder.finish()]);
        gpu.device()
            .poll(wgpu::PollType::wait_indefinitely())
            .expect("poll");
        let wall = started.elapsed().as_secs_f64() * 1e3;
        match &self.query {
            None => wall / reps as f64,
            Some((_, _, read, period)) => {
                read.slice(..)
                    .map_async(wgpu::MapMode::Read, |r| r.expect("map"));
                gpu.device()
                    .poll(wgpu::PollType::wait_indefinitely())
                    .expect("poll");
                let ticks: Vec<u64> =
                    bytemuck::cast_slice(&read.slice(..).get_mapped_range().expect("view"))
                        .to_vec();
                read.unmap();
                (ticks[1].saturating_sub(ticks[0])) as f64 * period / 1e6 / reps as f64
            }
        }
    }
}

/// Whether `--filter SUBSTRING` (if given) selects the row `name`.
fn wanted(name: &str) -> bool {
    let filter = std::env::args().skip_while(|a| a != "--filter").nth(1);
    filter.is_none_or(|f| name.contains(&f))
}

/// Whether `--dtype NAME` (if given) selects the element type `name`.
fn dtype_wanted(name: &str) -> bool {
    let dtype = std::env::args().skip_while(|a| a != "--dtype").nth(1);
    dtype.is_none_or(|d| d == name)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Times `record` and a copy of `copy_bytes`, alternately: (op, copy)
/// milliseconds per trial.
fn compare(
    gpu: &Gpu,
    timer: &Timer,
    trials: usize,
    reps: usize,
    copy_bytes: u64,
    record: &dyn Fn(&mut wgpu::CommandEncoder),
) -> Vec<(f64, f64)> {
    let usage =
        wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::STORAGE;
    let make = || {
        gpu.device().create_buffer(&wgpu::BufferDescriptor {
            label: Some("bench copy"),
            size: copy_bytes,
            usage,
            mapped_at_creation: false,
        })
    };
    let (src, dst) = (make(), make());
    let copy = |e: &mut wgpu::CommandEncoder| e.copy_buffer_to_buffer(&src, 0, &dst, 0, copy_bytes);
    alternate(gpu, timer, trials, reps, record, &copy)
}

/// Times `record` and `against` alternately: (op, against) milliseconds
/// per trial.
fn alternate(
    gpu: &Gpu,
    timer: &Timer,
    trials: usize,
    reps: usize,
    record: &dyn Fn(&mut wgpu::CommandEncoder),
    against: &dyn Fn(&mut wgpu::CommandEncoder),
) -> Vec<(f64, f64)> {
    timer.time(gpu, 1, against);
    timer.time(gpu, 1, record);
    (0..trials)
        .map(|_| {
            let against_ms = timer.time(gpu, reps, against);
            (timer.time(gpu, reps, record), against_ms)
        })
        .collect()
}

fn bench_dtype<T: Element>(
    gpu: &Gpu,
    timer: &Timer,
    lens: &[usize],
    trials: usize,
    rows: &mut Vec<Row>,
) -> Result<(), wgpu_relu::Error> {
    for &len in lens {
        let reps = reps(len);
        let host: Vec<T> = (0..len)
            .map(|i| T::from_f32(((i * 7919) % 2001) as f32 / 1000.0 - 1.0))
            .collect();
        let shape = [1, CHANNELS, len / CHANNELS];
        let x = gpu.upload(&host)?.reshape(&shape)?;
        let g = gpu.upload(&host)?.reshape(&shape)?;
        let y: Tensor<T> = gpu.empty(&shape)?;
        let w = gpu.upload(&[T::from_f32(0.25); CHANNELS])?;
        let gw: Tensor<T> = gpu.empty(&[CHANNELS])?;
        // Channels last: the channel changes with every element.
        let last = [len / CHANNELS, CHANNELS];
        let (x_last, y_last) = (x.reshape(&last)?, y.reshape(&last)?);
        let g_last = g.reshape(&last)?;
        // A batch of 32x32 images: channel runs of 1,024 elements, shorter
        // than the weight gradient's tiles.
        let images = [len / IMAGES, CHANNELS, 32, 32];
        let (x_img, g_img, y_img) = (
            x.reshape(&images)?,
            g.reshape(&images)?,
            y.reshape(&images)?,
        );
        // The 1-bit mask ReLU's forward leaves (Leaky's has other bits, the
        // same traffic).
        let (_, mask) = gpu.forward_with_mask(&Activation::Relu, &x)?;
        // One monitor of 64 channels along axis 1 fits every layout above.
        let monitor = gpu.activity_monitor(CHANNELS, 1)?;
        let watched = |e: &mut wgpu::CommandEncoder, act, x: &Tensor<T>, y: &Tensor<T>| {
            let out = ForwardOut::write(y).with_stats(&monitor);
            gpu.encode_forward_into(e, act, x, out).unwrap()
        };
        let y_img_out = y.reshape(&images)?;
        // Channels-last with a count that divides no power of two: the
        // count pass's per-channel class.
        let odd = [len / 37, 37];
        let x_odd = gpu.upload(&host[..odd[0] * 37])?.reshape(&odd)?;
        let y_odd: Tensor<T> = gpu.empty(&odd)?;
        let monitor_odd = gpu.activity_monitor(37, 1)?;
        let esize = T::SIZE as f64;
        let n = len as f64;
        // The floors of this length and element, 2, 3 and 4 streams, each
        // made when an op first needs it.
        let words = (len * T::SIZE as usize).div_ceil(16) * 4;
        let floors: [std::cell::OnceCell<Floor>; 3] = Default::default();
        let relu = Activation::Relu;
        let leaky = Activation::LeakyRelu {
            negative_slope: 0.01,
        };
        let prelu = Activation::Prelu {
            weight: &w,
            channel_axis: 1,
        };
        let rrelu = Activation::Rrelu {
            lower: 1.0 / 8.0,
            upper: 1.0 / 3.0,
            mode: RreluMode::Training { seed: 7, stream: 0 },
        };
        type Rec<'a> = Box<dyn Fn(&mut wgpu::CommandEncoder) + 'a>;
        // Bytes each element moves: whole streams of elements, and a mask
        // of one bit.
        let streams = |k: f64| k * esize;
        let bit = 1.0 / 8.0;
        let from = |e: &mut wgpu::CommandEncoder, act, saved, out| {
            gpu.encode_backward_from(e, act, saved, &g, out).unwrap()
        };
        let cases: Vec<(&str, f64, Rec)> = vec![
            (
                "relu_forward",
                streams(2.0),
                Box::new(|e| gpu.encode_forward(e, &relu, &x, &y).unwrap()),
            ),
            (
                "relu_forward_in_place",
                streams(2.0),
                Box::new(|e| gpu.encode_forward(e, &relu, &y, &y).unwrap()),
            ),
            (
                "relu_backward",
                streams(3.0),
                Box::new(|e| gpu.encode_backward(e, &relu, &x, &g, &y, None).unwrap()),
            ),
            (
                "relu_forward_with_mask",
                streams(2.0) + bit,
                Box::new(|e| {
                    gpu.encode_forward_with_mask(e, &relu, &x, &y, &mask)
                        .unwrap()
                }),
            ),
            (
                "relu_forward_with_stats",
                streams(2.0) + 2.0 * bit,
                Box::new(|e| watched(e, &relu, &x, &y)),
            ),
            (
                "relu_32x32_images_forward_with_stats",
                streams(2.0) + 2.0 * bit,
                Box::new(|e| watched(e, &relu, &x_img, &y_img_out)),
            ),
            (
                "relu_channels_last_forward_with_stats",
                streams(2.0) + 2.0 * bit,
                Box::new(|e| watched(e, &relu, &x_last, &y_last)),
            ),
            (
                "relu_37_channels_last_forward",
                streams(2.0),
                Box::new(|e| gpu.encode_forward(e, &relu, &x_odd, &y_odd).unwrap()),
            ),
            (
                "relu_37_channels_last_forward_with_stats",
                streams(2.0) + 2.0 * bit,
                Box::new(|e| {
                    let out = ForwardOut::write(&y_odd).with_stats(&monitor_odd);
                    gpu.encode_forward_into(e, &relu, &x_odd, out).unwrap()
                }),
            ),
            (
                "relu_forward_with_mask_and_stats",
                streams(2.0) + 3.0 * bit,
                Box::new(|e| {
                    let out = ForwardOut::write(&y).with_mask(&mask).with_stats(&monitor);
                    gpu.encode_forward_into(e, &relu, &x, out).unwrap()
                }),
            ),
            (
                "relu_backward_from_mask",
                streams(2.0) + bit,
                Box::new(|e| from(e, &relu, Saved::Mask(&mask), GradOut::write(&y))),
            ),
            (
                "relu_backward_from_output",
                streams(3.0),
                Box::new(|e| from(e, &relu, Saved::Output(&x), GradOut::write(&y))),
            ),
            (
                "relu_backward_accumulate",
                streams(4.0),
                Box::new(|e| from(e, &relu, Saved::Input(&x), GradOut::add_to(&y))),
            ),
            (
                "relu_backward_from_mask_accumulate",
                streams(3.0) + bit,
                Box::new(|e| from(e, &relu, Saved::Mask(&mask), GradOut::add_to(&y))),
            ),
            (
                "leaky_forward",
                streams(2.0),
                Box::new(|e| gpu.encode_forward(e, &leaky, &x, &y).unwrap()),
            ),
            (
                "leaky_backward",
                streams(3.0),
                Box::new(|e| gpu.encode_backward(e, &leaky, &x, &g, &y, None).unwrap()),
            ),
            (
                "leaky_forward_with_mask",
                streams(2.0) + bit,
                Box::new(|e| {
                    gpu.encode_forward_with_mask(e, &leaky, &x, &y, &mask)
                        .unwrap()
                }),
            ),
            (
                "leaky_forward_with_stats",
                streams(2.0) + 2.0 * bit,
                Box::new(|e| watched(e, &leaky, &x, &y)),
            ),
            (
                "leaky_channels_last_forward_with_stats",
                streams(2.0) + 2.0 * bit,
                Box::new(|e| watched(e, &leaky, &x_last, &y_last)),
            ),
            (
                "leaky_backward_from_mask",
                streams(2.0) + bit,
                Box::new(|e| from(e, &leaky, Saved::Mask(&mask), GradOut::write(&y))),
            ),
            (
                "leaky_backward_from_output",
                streams(3.0),
                Box::new(|e| from(e, &leaky, Saved::Output(&x), GradOut::write(&y))),
            ),
            (
                "rrelu_forward",
                streams(2.0),
                Box::new(|e| gpu.encode_forward(e, &rrelu, &x, &y).unwrap()),
            ),
            (
                "rrelu_backward",
                streams(3.0),
                Box::new(|e| gpu.encode_backward(e, &rrelu, &x, &g, &y, None).unwrap()),
            ),
            (
                "prelu64_forward",
                streams(2.0),
                Box::new(|e| gpu.encode_forward(e, &prelu, &x, &y).unwrap()),
            ),
            (
                "prelu64_forward_with_stats",
                streams(2.0) + 2.0 * bit,
                Box::new(|e| watched(e, &prelu, &x, &y)),
            ),
            (
                "prelu64_32x32_images_forward",
                streams(2.0),
                Box::new(|e| gpu.encode_forward(e, &prelu, &x_img, &y_img_out).unwrap()),
            ),
            (
                // Runs of 1,024: the weights stepped, not repeated.
                "prelu64_32x32_images_forward_with_stats",
                streams(2.0) + 2.0 * bit,
                Box::new(|e| watched(e, &prelu, &x_img, &y_img_out)),
            ),
            (
                "prelu64_channels_last_forward",
                streams(2.0),
                Box::new(|e| gpu.encode_forward(e, &prelu, &x_last, &y_last).unwrap()),
            ),
            (
                "prelu64_backward_with_weight",
                streams(3.0),
                Box::new(|e| {
                    gpu.encode_backward(e, &prelu, &x, &g, &y, Some(&gw))
                        .unwrap()
                }),
            ),
            (
                "prelu64_channels_last_backward_with_weight",
                streams(3.0),
                Box::new(|e| {
                    gpu.encode_backward(e, &prelu, &x_last, &g_last, &y_last, Some(&gw))
                        .unwrap()
                }),
            ),
            (
                "prelu64_32x32_images_backward_with_weight",
                streams(3.0),
                Box::new(|e| {
                    gpu.encode_backward(e, &prelu, &x_img, &g_img, &y_img, Some(&gw))
                        .unwrap()
                }),
            ),
        ];
        for (name, bytes_per_element, record) in &cases {
            let name = *name;
            if !wanted(name) {
                continue;
            }
            // A copy moves each byte twice (read + write): copy half the
            // bytes the op moves.
            let copy_bytes = (bytes_per_element * n / 2.0).ceil() as u64;
            let times = compare(
                gpu,
                timer,
                trials,
                reps,
                copy_bytes.next_multiple_of(4),
                &**record,
            );
            let bytes = bytes_per_element * n;
            rows.push(row(name, T::NAME, len, &times).moving(bytes));
            // Against the floor of its whole streams, alternately.
            let whole = (bytes_per_element / esize).floor() as usize;
            let floor = floors[whole - 2]
                .get_or_init(|| Floor::chosen(gpu, timer, trials, words, whole as u64, rows));
            let times = alternate(gpu, timer, trials, reps, &**record, &|e| floor.record(e));
            rows.push(Row {
                against: floor.name(),
                ..row(name, T::NAME, len, &times).moving(bytes)
            });
        }
        // What the mask and the statistics add: each such forward timed
        // alternately with the forward it extends, on the same tensor.
        let case = |name: &str| &cases.iter().find(|c| c.0 == name).expect("a case").2;
        for (op, plain) in [
            ("relu_forward_with_stats", "relu_forward"),
            ("relu_32x32_images_forward_with_stats", "relu_forward"),
            ("relu_channels_last_forward_with_stats", "relu_forward"),
            (
                "relu_37_channels_last_forward_with_stats",
                "relu_37_channels_last_forward",
            ),
            ("relu_forward_with_mask", "relu_forward"),
            ("relu_backward_from_mask", "relu_backward"),
            ("leaky_backward_from_mask", "leaky_backward"),
            ("relu_forward_with_mask_and_stats", "relu_forward_with_mask"),
            ("leaky_forward_with_stats", "leaky_forward"),
            ("leaky_channels_last_forward_with_stats", "leaky_forward"),
            ("prelu64_forward_with_stats", "prelu64_forward"),
            (
                "prelu64_32x32_images_forward_with_stats",
                "prelu64_32x32_images_forward",
            ),
        ] {
            if !wanted(op) {
                continue;
            }
            let times = alternate(gpu, timer, trials, reps, &**case(op), &**case(plain));
            rows.push(Row {
                against: plain.into(),
                ..row(op, T::NAME, len, &times)
            });
        }
    }
    Ok(())
}

pub fn main() -> Result<(), wgpu_relu::Error> {
    env_logger::init();
    let json = std::env::args().any(|a| a == "--json");
    let quick = std::env::args().any(|a| a == "--quick");
    let gpu = Gpu::new()?;
    let timer = Timer::new(&gpu);
    let info = gpu.adapter_info();
    if !json {
        println!(
            "adapter: {} ({:?}, {:?}); timing: {}",
            info.name,
            info.backend,
            info.device_type,
            timer.method()
        );
    }
    let lens: Vec<usize> = match std::env::args().skip_while(|a| a != "--lens").nth(1) {
        Some(list) => list
            .split(',')
            .map(|n| {
                let n: usize = n
                    .trim()
                    .parse()
                    .expect("--lens: element counts, comma-separated");
                // Whole batches of 32x32 images of 64 channels, one of the
                // table's shapes.
                (n / IMAGES * IMAGES).max(IMAGES)
            })
            .collect(),
        None if quick => vec![1 << 20],
        None => vec![1 << 20, 1 << 24],
    };
    let trials = if quick { 5 } else { 11 };
    let mut rows = Vec::new();
    for &len in &lens {
        for streams in [2, 3, 4] {
            // Always, whatever the filter: every op is read against them.
            let name = format!("shader_floor_{streams}_streams");
            shader_floor(&gpu, &timer, trials, len, streams, &name, &mut rows);
        }
    }
    let (f32s, f16s) = (
        dtype_wanted("f32"),
        dtype_wanted("f16") && gpu.supports_f16(),
    );
    if f32s {
        bench_dtype::<f32>(&gpu, &timer, &lens, trials, &mut rows)?;
    }
    if f16s {
        bench_dtype::<f16>(&gpu, &timer, &lens, trials, &mut rows)?;
    }
    if std::env::args().any(|a| a == "--shapes") {
        if f32s {
            shapes::bench_shapes::<f32>(&gpu, &timer, trials, &mut rows)?;
        }
        if f16s {
            shapes::bench_shapes::<f16>(&gpu, &timer, trials, &mut rows)?;
        }
    }

    // End to end: upload 1M from a Vec, ReLU, download to a Vec, against
    // three copies of the same bytes.
    let len = 1 << 20;
    let host: Vec<f32> = (0..len).map(|i| (i % 200) as f32 - 100.0).collect();
    if wanted("end_to_end") {
        calls::end_to_end(&gpu, &timer, trials, &host, &mut rows)?;
    }
    if wanted("small_forward") {
        calls::small_forward(&gpu, &host, &mut rows)?;
    }
    if wanted("cpu_reference") {
        calls::cpu_reference(&mut rows);
    }

    for r in &rows {
        let ratio = r.ratio;
        if json {
            let gb_per_s = r.gb_per_s().map_or("null".into(), |v| format!("{v:.1}"));
            println!(
                "{{\"op\":\"{}\",\"dtype\":\"{}\",\"len\":{},\"ms\":{:.4},\"against\":\"{}\",\"copy_ms\":{:.4},\"ratio\":{:.3},\"gb_per_s\":{},\"adapter\":\"{}\"}}",
                r.op, r.dtype, r.len, r.ms, r.against, r.copy_ms, ratio, gb_per_s, info.name
            );
        } else {
            let gb_per_s = r
                .gb_per_s()
                .map_or(String::new(), |v| format!("  {v:9.1} GB/s"));
            println!(
                "{:44} {:4} {:>9} {:10.4} ms  {} {:10.4} ms  ratio {:6.2}{}",
                r.op, r.dtype, r.len, r.ms, r.against, r.copy_ms, ratio, gb_per_s
            );
        }
    }
    Ok(())
}

/// The floors themselves against `copy_buffer_to_buffer` of the same bytes
/// (a copy of B bytes moves 2B): `len` u32s a stream.
fn shader_floor(
    gpu: &Gpu,
    timer: &Timer,
    trials: usize,
    len: usize,
    streams: u64,
    name: &str,
    rows: &mut Vec<Row>,
) {
    let floor = Floor::new(gpu, len, streams);
    let bytes = (len * 4) as u64;
    let times = compare(gpu, timer, trials, reps(len), streams * bytes / 2, &|e| {
        floor.record(e)
    });
    rows.push(row(name, "f32", len, &times).moving((streams * bytes) as f64));
}
