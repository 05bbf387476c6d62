// The app's own kernels of the dying-ReLU example: a dense layer, the
// gradients of its weights, biases and input, softmax cross-entropy and
// the SGD update, all in f32, row-major. The activations between the
// layers are the library's. One invocation per output element, each sum
// in a fixed order: the same numbers run to run.

struct Dims {
    rows: u32,     // a batch's rows
    inner: u32,    // the summed dimension
    cols: u32,
    first: u32,    // the batch's first sample (the loss's per-sample slots)
    lr: f32,       // the SGD step
    len: u32,      // elements the update takes
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> labels: array<u32>;
@group(0) @binding(6) var<storage, read_write> loss: array<f32>;
@group(0) @binding(7) var<storage, read_write> correct: array<f32>;

fn index(gid: vec3<u32>, n: vec3<u32>) -> u32 {
    return gid.y * n.x * 64u + gid.x;
}

// out[r, c] = sum_k a[r, k] * b[k, c] + bias[c]: a dense layer.
@compute @workgroup_size(64)
fn linear(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) n: vec3<u32>) {
    let i = index(gid, n);
    if i >= dims.rows * dims.cols {
        return;
    }
    let r = i / dims.cols;
    let c = i % dims.cols;
    var sum = 0.0;
    for (var k = 0u; k < dims.inner; k++) {
        sum += a[r * dims.inner + k] * b[k * dims.cols + c];
    }
    out[i] = sum + bias[c];
}

// out[r, k] = sum_c a[r, c] * b[k, c]: the input's gradient, a = dZ
// [rows, cols], b = W [inner, cols], out = dX [rows, inner].
@compute @workgroup_size(64)
fn input_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) n: vec3<u32>) {
    let i = index(gid, n);
    if i >= dims.rows * dims.inner {
        return;
    }
    let r = i / dims.inner;
    let k = i % dims.inner;
    var sum = 0.0;
    for (var c = 0u; c < dims.cols; c++) {
        sum += a[r * dims.cols + c] * b[k * dims.cols + c];
    }
    out[i] = sum;
}

// out[k, c] = sum_r a[r, k] * b[r, c]: the weights' gradient, a = X
// [rows, inner], b = dZ [rows, cols], out = dW [inner, cols].
@compute @workgroup_size(64)
fn weight_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) n: vec3<u32>) {
    let i = index(gid, n);
    if i >= dims.inner * dims.cols {
        return;
    }
    let k = i / dims.cols;
    let c = i % dims.cols;
    var sum = 0.0;
    for (var r = 0u; r < dims.rows; r++) {
        sum += a[r * dims.inner + k] * b[r * dims.cols + c];
    }
    out[i] = sum;
}

// out[c] = sum_r a[r, c]: the biases' gradient.
@compute @workgroup_size(64)
fn bias_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) n: vec3<u32>) {
    let c = index(gid, n);
    if c >= dims.cols {
        return;
    }
    var sum = 0.0;
    for (var r = 0u; r < dims.rows; r++) {
        sum += a[r * dims.cols + c];
    }
    out[c] = sum;
}

// Softmax cross-entropy of the logits a [rows, cols] against the labels:
// out = its gradient, (softmax - one-hot) / rows; each sample's loss and
// whether its largest logit is its label (1 or 0), in its own slot.
@compute @workgroup_size(64)
fn cross_entropy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) n: vec3<u32>) {
    let r = index(gid, n);
    if r >= dims.rows {
        return;
    }
    let row = r * dims.cols;
    let label = labels[r];
    var top = a[row];
    var best = 0u;
    for (var c = 1u; c < dims.cols; c++) {
        if a[row + c] > top {
            top = a[row + c];
            best = c;
        }
    }
    var total = 0.0;
    for (var c = 0u; c < dims.cols; c++) {
        total += exp(a[row + c] - top);
    }
    for (var c = 0u; c < dims.cols; c++) {
        let p = exp(a[row + c] - top) / total;
        out[row + c] = (p - select(0.0, 1.0, c == label)) / f32(dims.rows);
    }
    loss[dims.first + r] = log(total) - (a[row + label] - top);
    correct[dims.first + r] = select(0.0, 1.0, best == label);
}

// out -= lr * a: plain SGD.
@compute @workgroup_size(64)
fn sgd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) n: vec3<u32>) {
    let i = index(gid, n);
    if i < dims.len {
        out[i] -= dims.lr * a[i];
    }
}
