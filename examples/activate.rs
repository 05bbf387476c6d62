//! Activates a buffer on whatever adapter this machine has, times it and
//! verifies every element against the CPU reference.
//!
//! ```text
//! cargo run --release --example activate -- [--len N] [--activation relu|leaky:SLOPE|prelu:CHANNELS|rrelu:SEED] [--backward]
//! ```
//!
//! Exits non-zero if any element differs from the reference.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use wgpu_relu::{cpu, wgpu, Activation, Gpu, RreluMode};

#[derive(Clone, Copy, Debug)]
enum Kind {
    Relu,
    Leaky(f32),
    Prelu(usize),
    /// RReLU in training, slopes in [1/8, 1/3) from this seed.
    Rrelu(u64),
}

const RRELU_LOWER: f32 = 1.0 / 8.0;
const RRELU_UPPER: f32 = 1.0 / 3.0;

struct Args {
    len: usize,
    kind: Kind,
    backward: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        len: 1 << 20,
        kind: Kind::Relu,
        backward: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--len" => {
                let v = it.next().ok_or("--len needs a value")?;
                args.len = v.parse().map_err(|_| format!("--len {v}: not a number"))?;
            }
            "--activation" => {
                let v = it.next().ok_or("--activation needs a value")?;
                args.kind = match v.split_once(':') {
                    None if v == "relu" => Kind::Relu,
                    Some(("leaky", s)) => Kind::Leaky(s.parse().map_err(|_| format!("leaky:{s}: not a number"))?),
                    Some(("prelu", c)) => Kind::Prelu(c.parse().map_err(|_| format!("prelu:{c}: not a count"))?),
                    Some(("rrelu", seed)) => Kind::Rrelu(seed.parse().map_err(|_| format!("rrelu:{seed}: not a seed"))?),
                    _ => return Err(format!("--activation {v}: use relu, leaky:SLOPE, prelu:CHANNELS or rrelu:SEED")),
                };
            }
            "--backward" => args.backward = true,
            "-h" | "--help" => {
                return Err("usage: activate [--len N] [--activation relu|leaky:SLOPE|prelu:CHANNELS|rrelu:SEED] [--backward]".into())
            }
            other => return Err(format!("unknown argument {other}; try --help")),
        }
    }
    if let Kind::Prelu(c) = args.kind {
        if c == 0 || !args.len.is_multiple_of(c) {
            return Err(format!(
                "prelu:{c} needs --len to be a multiple of the channel count"
            ));
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    env_logger::init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Inputs with every edge case in them: mostly values around zero, some
/// NaN, ±inf, ±0 and subnormals.
fn inputs(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            match state % 97 {
                0 => f32::NAN,
                1 => f32::INFINITY,
                2 => f32::NEG_INFINITY,
                3 => -0.0,
                4 => f32::from_bits(1 + (state >> 41) as u32),
                _ => ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 8.0,
            }
        })
        .collect()
}

fn run(args: &Args) -> Result<bool, wgpu_relu::Error> {
    let gpu = Gpu::new()?;
    let info = gpu.adapter_info();
    println!(
        "adapter:  {} ({:?}, {:?}, driver {})",
        info.name, info.backend, info.device_type, info.driver
    );
    let direction = if args.backward { "backward" } else { "forward" };
    println!(
        "op:       {:?} {direction}, {} f32 elements",
        args.kind, args.len
    );

    let x_host = inputs(args.len, 0x9e37_79b9_7f4a_7c15);
    let started = Instant::now();
    let x = gpu.upload(&x_host)?;
    let g_host = if args.backward {
        inputs(args.len, 0xdead_beef_cafe_f00d)
    } else {
        Vec::new()
    };
    let g = gpu.upload(&g_host)?;
    gpu.device().poll(wgpu::PollType::wait_indefinitely())?;
    let upload = started.elapsed();

    let (shape, weight_host) = match args.kind {
        Kind::Prelu(c) => (
            vec![1, c, args.len / c],
            inputs(c, 7).iter().map(|w| w.clamp(-1.0, 1.0)).collect(),
        ),
        _ => (vec![args.len], vec![1.0]),
    };
    let x = x.reshape(&shape)?;
    let g = g.reshape(if args.backward { &shape } else { &[0] })?;
    let weight = gpu.upload(&weight_host)?;
    let act = match args.kind {
        Kind::Relu => Activation::Relu,
        Kind::Leaky(s) => Activation::LeakyRelu { negative_slope: s },
        Kind::Prelu(_) => Activation::Prelu {
            weight: &weight,
            channel_axis: 1,
        },
        Kind::Rrelu(seed) => Activation::Rrelu {
            lower: RRELU_LOWER,
            upper: RRELU_UPPER,
            mode: RreluMode::Training { seed, stream: 0 },
        },
    };

    let out = gpu.empty::<f32>(&shape)?;
    let grad_w = gpu.empty::<f32>(&[weight_host.len()])?;
    let grad_w = (args.backward && matches!(args.kind, Kind::Prelu(_))).then_some(&grad_w);
    let encode = |encoder: &mut wgpu::CommandEncoder| {
        if args.backward {
            gpu.encode_backward(encoder, &act, &x, &g, &out, grad_w)
        } else {
            gpu.encode_forward(encoder, &act, &x, &out)
        }
    };
    // Median of several runs after a warm-up that builds the pipelines.
    let mut times: Vec<Duration> = (0..8)
        .map(|_| time_kernel(&gpu, &encode))
        .collect::<Result<_, _>>()?;
    times.remove(0);
    times.sort();
    let kernel = times[times.len() / 2];

    let started = Instant::now();
    let y = gpu.download(&out)?;
    let download = started.elapsed();
    let grad_w_host = grad_w.map(|t| gpu.download(t)).transpose()?;

    let expected = expected(args, &x_host, &g_host, &shape, &weight_host);
    let mismatches = (0..y.len()).filter(|&i| !same(y[i], expected[i])).count();
    let weight_ok = match (&grad_w_host, args.kind) {
        (Some(gw), Kind::Prelu(c)) => {
            let reference = cpu::prelu_weight_grad(&x_host, &g_host, &shape, c, 1)?;
            let scale = cpu::prelu_weight_grad_magnitude(&x_host, &g_host, &shape, c, 1)?;
            (0..c).all(|i| {
                let (a, r) = (f64::from(gw[i]), reference[i]);
                (a.is_nan() && r.is_nan()) || (a - r).abs() <= 1e-5 * scale[i] || a == r
            })
        }
        _ => true,
    };

    let moved = (if args.backward { 12 } else { 8 }) * args.len as u64;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("upload:   {:9.3} ms", ms(upload));
    println!(
        "kernel:   {:9.3} ms  ({:.1} GB/s, {} bytes moved; median of 7)",
        ms(kernel),
        moved as f64 / kernel.as_secs_f64() / 1e9,
        moved
    );
    println!("download: {:9.3} ms", ms(download));
    if mismatches == 0 && weight_ok {
        println!(
            "verdict:  OK, all {} elements match the CPU reference bit for bit{}",
            y.len(),
            if grad_w_host.is_some() {
                ", weight gradient within 1e-5"
            } else {
                ""
            }
        );
        Ok(true)
    } else {
        println!("verdict:  MISMATCH, {mismatches} of {} elements differ from the CPU reference (weight gradient ok: {weight_ok})", y.len());
        Ok(false)
    }
}

fn time_kernel(
    gpu: &Gpu,
    encode: &impl Fn(&mut wgpu::CommandEncoder) -> Result<(), wgpu_relu::Error>,
) -> Result<Duration, wgpu_relu::Error> {
    let mut encoder = gpu.device().create_command_encoder(&Default::default());
    encode(&mut encoder)?;
    let started = Instant::now();
    gpu.queue().submit([encoder.finish()]);
    gpu.device().poll(wgpu::PollType::wait_indefinitely())?;
    Ok(started.elapsed())
}

fn expected(args: &Args, x: &[f32], g: &[f32], shape: &[usize], weight: &[f32]) -> Vec<f32> {
    match (args.kind, args.backward) {
        (Kind::Relu, false) => cpu::relu(x),
        (Kind::Relu, true) => cpu::relu_backward(x, g),
        (Kind::Leaky(s), false) => cpu::leaky_relu(x, s),
        (Kind::Leaky(s), true) => cpu::leaky_relu_backward(x, g, s),
        (Kind::Prelu(_), false) => cpu::prelu(x, shape, weight, 1).expect("checked shape"),
        (Kind::Prelu(_), true) => {
            cpu::prelu_backward(x, g, shape, weight, 1)
                .expect("checked shape")
                .0
        }
        (Kind::Rrelu(seed), backward) => {
            let slopes = cpu::rrelu_slopes(0, x.len(), RRELU_LOWER, RRELU_UPPER, seed, 0)
                .expect("valid bounds");
            match backward {
                false => cpu::rrelu_with_slopes(x, &slopes),
                true => cpu::rrelu_backward_with_slopes(x, g, &slopes),
            }
        }
    }
}

/// Bit-identical, except that -0 equals +0 and NaN equals NaN.
fn same(a: f32, b: f32) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}
