//! The exported WGSL (`wgpu_relu::wgsl`) inside a user-style kernel, run on
//! the GPU on every pair of special bit patterns and random values (the
//! golden vectors) and held to PyTorch's bits and to the library's own
//! kernels, f32 and f16, as plain text and, with the `naga_oil` feature,
//! composed through naga_oil.

mod common;
#[path = "common/golden.rs"]
mod golden;

use common::*;
use wgpu_relu::wgpu::util::DeviceExt;
use wgpu_relu::{wgpu, wgsl, Activation, Element, Gpu};

/// The user's kernel: applies exported function number `op` to x (and g).
fn user_kernel(elem: &str) -> String {
    format!(
        "struct Args {{ op: u32, slope: f32, n: u32, pad: u32 }}
@group(0) @binding(0) var<uniform> args: Args;
@group(0) @binding(1) var<storage, read_write> xs: array<{elem}>;
@group(0) @binding(2) var<storage, read_write> gs: array<{elem}>;
@group(0) @binding(3) var<storage, read_write> out: array<{elem}>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {{
    let i = id.x;
    if i >= args.n {{
        return;
    }}
    let x = xs[i];
    let g = gs[i];
    let s = args.slope;
    var r: {elem};
    switch args.op {{
        case 0u: {{ r = RELU_FORWARD(x); }}
        case 1u: {{ r = RELU_BACKWARD(x, g); }}
        case 2u: {{ r = LEAKY_RELU_FORWARD(x, s); }}
        case 3u: {{ r = LEAKY_RELU_BACKWARD(x, g, s); }}
        case 4u: {{ r = PRELU_FORWARD(x, s); }}
        case 5u: {{ r = PRELU_BACKWARD(x, g, s); }}
        case 6u: {{ r = RELU_FORWARD4(vec4(x)).y; }}
        case 7u: {{ r = RELU_BACKWARD4(vec4(x), vec4(g)).z; }}
        case 8u: {{ r = LEAKY_RELU_FORWARD4(vec4(x), s).w; }}
        case 9u: {{ r = LEAKY_RELU_BACKWARD4(vec4(x), vec4(g), s).x; }}
        case 10u: {{ r = PRELU_FORWARD4(vec4(x), vec4(s)).y; }}
        case 11u: {{ r = PRELU_BACKWARD4(vec4(x), vec4(g), vec4(s)).z; }}
        case 12u: {{ r = {elem}(PRELU_WEIGHT_TERM(x, g)); }}
        default: {{ r = {elem}(PRELU_WEIGHT_TERM4(vec4(x), vec4(g)).w); }}
    }}
    out[i] = r;
}}"
    )
}

/// The exported functions the kernel calls, by op number.
const NAMES: [&str; 14] = [
    "relu_forward",
    "relu_backward",
    "leaky_relu_forward",
    "leaky_relu_backward",
    "prelu_forward",
    "prelu_backward",
    "relu_forward4",
    "relu_backward4",
    "leaky_relu_forward4",
    "leaky_relu_backward4",
    "prelu_forward4",
    "prelu_backward4",
    "prelu_weight_term",
    "prelu_weight_term4",
];

/// The user's kernel with the exported functions called by `prefix` + name.
fn with_names(kernel: &str, prefix: &str) -> String {
    let mut text = kernel.to_string();
    // Longest first: RELU_FORWARD stands inside LEAKY_RELU_FORWARD4.
    let mut names = NAMES;
    names.sort_by_key(|name| std::cmp::Reverse(name.len()));
    for name in names {
        text = text.replace(&name.to_uppercase(), &format!("{prefix}{name}"));
    }
    text
}

/// Runs `module`'s `main` for op `op` on x and g, returns the output.
fn run<T: Element>(
    gpu: &Gpu,
    module: &wgpu::ShaderModule,
    op: u32,
    slope: f32,
    x: &[T],
    g: &[T],
) -> Vec<T> {
    let device = gpu.device();
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("user kernel"),
        layout: None,
        module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let args = [op, slope.to_bits(), x.len() as u32, 0];
    let args = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: None,
        contents: bytemuck::cast_slice(&args),
        usage: wgpu::BufferUsages::UNIFORM,
    });
    let (xt, gt) = (gpu.upload(x).unwrap(), gpu.upload(g).unwrap());
    let out = gpu.upload(&vec![T::from_f32(-12345.0); x.len()]).unwrap();
    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: args.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: xt.buffer().as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 2,
                resource: gt.buffer().as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 3,
                resource: out.buffer().as_entire_binding(),
            },
        ],
    });
    let mut encoder = device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups((x.len() as u32).div_ceil(64), 1, 1);
    }
    gpu.queue().submit([encoder.finish()]);
    gpu.download(&out).unwrap()
}

/// Every exported function (scalar and vec4) against PyTorch's golden bits
/// and against the library's own kernel on the same inputs.
fn check_module<T: Element>(gpu: &Gpu, module: &wgpu::ShaderModule, how: &str) {
    let (x, g) = (golden::load::<T>("x"), golden::load::<T>("g"));
    // PReLU's weight term, x > 0 ? 0 : x * g, against the CPU: the f32
    // product rounded once (any NaN where the product makes one).
    let term: Vec<T> = x
        .iter()
        .zip(&g)
        .map(|(&x, &g)| match x.to_f32() > 0.0 {
            true => T::from_f32(0.0),
            false => T::from_f32(x.to_f32() * g.to_f32()),
        })
        .collect();
    for op in [12, 13] {
        let out = run(gpu, module, op, 0.0, &x, &g);
        let what = format!("{how} {}: {}", T::NAME, NAMES[op as usize]);
        assert_same_products(&out, &term, &products(&Op::<T>::Leaky(0.0), &x), &what);
    }
    let xt = gpu.upload(&x).unwrap();
    let gt = gpu.upload(&g).unwrap();
    let slopes = golden::slopes::<T>();
    for (k, &slope) in slopes.iter().enumerate() {
        let leaky = Op::Leaky(slope);
        let act = Activation::LeakyRelu {
            negative_slope: slope,
        };
        let ours_fwd = gpu.download(&gpu.forward(&act, &xt).unwrap()).unwrap();
        let ours_bwd = gpu
            .download(&gpu.backward(&act, &xt, &gt).unwrap().input)
            .unwrap();
        use golden::Direction::{Backward, Forward};
        // (op number, family, direction, golden file): the PReLU functions
        // with one weight are Leaky ReLU with that slope.
        let cases = [
            (0, Op::Relu, Forward, "relu_forward"),
            (1, Op::Relu, Backward, "relu_backward"),
            (2, leaky.clone(), Forward, "leaky_forward"),
            (3, leaky.clone(), Backward, "leaky_backward"),
            (4, leaky.clone(), Forward, "leaky_forward"),
            (5, leaky.clone(), Backward, "leaky_backward"),
        ];
        for (op, family, direction, file) in cases {
            if matches!(family, Op::Relu) && k > 0 {
                continue;
            }
            let torch = match family {
                Op::Relu => golden::load::<T>(file),
                _ => golden::load::<T>(&format!("{file}_{k}")),
            };
            let passed = golden::passed(&family, direction, &x, &g);
            for vec4 in [0, 6] {
                let what = format!(
                    "{how} {}: {} (slope {slope:e})",
                    T::NAME,
                    NAMES[(op + vec4) as usize]
                );
                let out = run(gpu, module, op + vec4, slope, &x, &g);
                golden::assert_golden(&out, &torch, &passed, &what);
                if !matches!(family, Op::Relu) {
                    let library = match direction {
                        Forward => &ours_fwd,
                        Backward => &ours_bwd,
                    };
                    assert_same_products(
                        &out,
                        library,
                        &products(&family, &x),
                        &format!("{what}: against the library"),
                    );
                }
            }
        }
    }
}

fn text_module(gpu: &Gpu, text: String) -> wgpu::ShaderModule {
    gpu.device()
        .create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("user shader"),
            source: wgpu::ShaderSource::Wgsl(text.into()),
        })
}

#[test]
fn exported_text_matches_pytorch_and_the_library() {
    let gpu = gpu();
    let f32_text = format!(
        "{}\n{}",
        wgsl::source_for::<f32>(gpu),
        with_names(&user_kernel("f32"), "wgpu_relu_")
    );
    check_module::<f32>(gpu, &text_module(gpu, f32_text), "text");
    if gpu.supports_f16() {
        let f16_text = format!(
            "enable f16;\n{}\n{}",
            wgsl::source_for::<half::f16>(gpu),
            with_names(&user_kernel("f16"), "wgpu_relu_")
        );
        check_module::<half::f16>(gpu, &text_module(gpu, f16_text), "text");
    } else {
        assert_eq!(
            gpu.adapter_info().backend,
            wgpu::Backend::Gl,
            "f16 is missing only on GL"
        );
    }
}

/// The exact-products text on a device that does not flush gives the same
/// bits (its integer path must agree with the hardware's products).
#[test]
fn exported_exact_text_matches_too() {
    let gpu = gpu();
    let text = format!(
        "{}\n{}",
        wgsl::source::<f32>(true),
        with_names(&user_kernel("f32"), "wgpu_relu_")
    );
    check_module::<f32>(gpu, &text_module(gpu, text), "exact text");
}

#[cfg(feature = "naga_oil")]
#[test]
fn naga_oil_modules_match_pytorch_and_the_library() {
    use naga_oil::compose::{Composer, NagaModuleDescriptor};
    fn composed<T: Element>(gpu: &Gpu, enable: &str, elem: &str) -> wgpu::ShaderModule {
        let mut composer = Composer::default().with_capabilities(naga::valid::Capabilities::all());
        wgsl::add_to_composer::<T>(&mut composer, gpu.exact_products()).unwrap();
        let imports: Vec<String> = NAMES
            .iter()
            .map(|name| {
                let family = ["leaky_relu", "prelu", "relu"]
                    .into_iter()
                    .find(|family| name.starts_with(family))
                    .unwrap();
                format!("#import wgpu_relu::{family}::{name}")
            })
            .collect();
        let source = format!(
            "{enable}{}\n{}",
            imports.join("\n"),
            with_names(&user_kernel(elem), "")
        );
        let module = composer
            .make_naga_module(NagaModuleDescriptor {
                source: &source,
                file_path: "user.wgsl",
                ..Default::default()
            })
            .unwrap_or_else(|e| panic!("{}", e.emit_to_string(&composer)));
        gpu.device()
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("composed"),
                source: wgpu::ShaderSource::Naga(std::borrow::Cow::Owned(module)),
            })
    }
    let gpu = gpu();
    check_module::<f32>(gpu, &composed::<f32>(gpu, "", "f32"), "naga_oil");
    if gpu.supports_f16() {
        check_module::<half::f16>(
            gpu,
            &composed::<half::f16>(gpu, "enable f16;\n", "f16"),
            "naga_oil",
        );
    }
}
