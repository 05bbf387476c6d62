#!/usr/bin/env python3
"""Writes the golden vectors in tests/golden/ from PyTorch on the CPU.

Run by hand after a change of semantics (CI needs no torch):

    python3 -m venv venv && venv/bin/pip install torch numpy
    venv/bin/python scripts/golden.py

Every file is a flat little-endian array of bit patterns: u32 for f32
(`f32/`), u16 for f16 (`f16/`). What each holds, for both dtypes:

- `x`, `g`: every pair of the special values below (x major), then
  random values; the element-wise ops run on them.
- `relu_forward`, `relu_backward`: `torch.relu(x)`, `threshold_backward(g, x, 0)`.
- `slopes` (always f32 bits): the Leaky ReLU slopes; for slope k,
  `leaky_forward_k`, `leaky_backward_k`.
- PReLU on shape `[2, C, K]` (channel axis 1): `prelu_x`, `prelu_g`,
  `prelu_w` (C weights: the specials, then random ones), `prelu_forward`,
  `prelu_backward` (grad_x), `prelu_weight_grad` (torch's sum, in the dtype).
  K is the number of specials plus 32 random values; `prelu_shape` (u32)
  holds [2, C, K].

For the training forms (drawn from a second generator, so that the files
above do not change):

- `relu_mask`, `leaky_mask` (u32 words in the layout of src/mask.rs): the
  predicate each backward takes g on, `~(x <= 0)` and `x > 0`.
- `relu_backward_from_output`: `threshold_backward(g, relu(x), 0)`, what
  PyTorch's in-place `relu_` goes back from; `leaky_backward_from_output_k`
  for each slope k >= 0: `leaky_relu_backward(g, y, s, self_is_result=True)`
  (PyTorch refuses the negative slopes).
- `acc`: gradients already there (every special against every value, then
  random); `relu_backward_acc`, `leaky_backward_acc_k`: `acc` plus the
  backward, in the dtype. `prelu_acc`, `prelu_backward_acc` the same for
  PReLU's grad_x.
- RReLU: `rrelu_slopes` (f32 bits, both folders) are the library's slopes
  for x's elements (Philox-4x32-10 with seed RRELU_SEED on stream
  RRELU_STREAM, bounds 1/8 and 1/3, as src/rrelu/cpu.rs makes them);
  f32 only: `rrelu_forward`, PyTorch's training rule `x <= 0 ? x * a : x`
  with those slopes, and `rrelu_backward`, `rrelu_with_noise_backward`
  given them as its noise. `rrelu_eval_forward`, `rrelu_eval_backward`:
  `rrelu(x, training=False)` and its gradient, both dtypes.
"""

import os
import struct

import numpy as np
import torch

F32_SPECIALS = [
    0x00000000, 0x80000000,  # +-0
    0x7F800000, 0xFF800000,  # +-inf
    0x7FC00000, 0xFFC00000,  # quiet NaNs
    0x7FC12345, 0xFFC12345,  # quiet NaNs with payloads
    0x7F812345, 0xFF812345,  # signalling NaNs with payloads
    0x7F800001, 0xFF800001,  # the smallest signalling NaNs
    0x00000001, 0x80000001,  # smallest subnormals
    0x007FFFFF, 0x807FFFFF,  # largest subnormals
    0x00800000, 0x80800000,  # MIN_POSITIVE
    0x7F7FFFFF, 0xFF7FFFFF,  # MAX
    0x3F800000, 0xBF800000,  # +-1
    0x3F000000, 0xC0500000,  # 0.5, -3.25
]

F16_SPECIALS = [
    0x0000, 0x8000,  # +-0
    0x7C00, 0xFC00,  # +-inf
    0x7E00, 0xFE00,  # quiet NaNs
    0x7E55, 0xFE55,  # quiet NaNs with payloads
    0x7D55, 0xFD55,  # signalling NaNs with payloads
    0x7C01, 0xFC01,  # the smallest signalling NaNs
    0x0001, 0x8001,  # smallest subnormals
    0x03FF, 0x83FF,  # largest subnormals
    0x0400, 0x8400,  # MIN_POSITIVE
    0x7BFF, 0xFBFF,  # MAX
    0x3C00, 0xBC00,  # +-1
    0x3800, 0xC280,  # 0.5, -3.25
]

# Finite slopes (the library rejects the others), each exactly an f32.
SLOPES = [0.01, 0.0, -0.0, -0.5, 2.5, 1.0e-40, -3.4e38, 1.1754944e-38]

RANDOM = 1000
PRELU_RANDOM_WEIGHTS = 8
PRELU_RANDOM_VALUES = 32


def tensor(bits, dtype):
    if dtype == "f32":
        return torch.from_numpy(np.array(bits, dtype=np.uint32).view(np.float32).copy())
    return torch.from_numpy(np.array(bits, dtype=np.uint16).view(np.float16).copy())


def bits_of(t, dtype):
    a = t.detach().contiguous().numpy()
    return a.view(np.uint32 if dtype == "f32" else np.uint16)


def random_bits(rng, n, dtype):
    values = rng.standard_normal(n) * 4.0
    values[::17] *= 1e-3
    if dtype == "f32":
        return list(values.astype(np.float32).view(np.uint32))
    return list(values.astype(np.float16).view(np.uint16))


def write(folder, name, array, width):
    array = np.asarray(array, dtype=np.uint32 if width == 4 else np.uint16)
    with open(os.path.join(folder, name + ".bin"), "wb") as f:
        f.write(array.astype("<u4" if width == 4 else "<u2").tobytes())


RRELU_SEED = 0x0123456789ABCDEF
RRELU_STREAM = 42
RRELU_LOWER, RRELU_UPPER = 1.0 / 8.0, 1.0 / 3.0


def philox4x32_10(ctr, key):
    # ctr: 4 arrays of uint64 holding u32 words; key: 2 python ints.
    m0, m1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
    mask = np.uint64(0xFFFFFFFF)
    c = [np.asarray(w, dtype=np.uint64) for w in ctr]
    k = [np.uint64(key[0]), np.uint64(key[1])]
    for r in range(10):
        if r > 0:
            k = [(k[0] + np.uint64(0x9E3779B9)) & mask, (k[1] + np.uint64(0xBB67AE85)) & mask]
        p0, p1 = m0 * c[0], m1 * c[2]
        c = [((p1 >> np.uint64(32)) ^ c[1] ^ k[0]) & mask, p1 & mask,
             ((p0 >> np.uint64(32)) ^ c[3] ^ k[1]) & mask, p0 & mask]
    return c


def rrelu_slopes(n, seed, stream, lower, upper):
    i = np.arange(n, dtype=np.uint64)
    zeros = np.zeros(n, dtype=np.uint64)
    words = philox4x32_10([i // np.uint64(4), zeros, zeros + np.uint64(stream & 0xFFFFFFFF),
                           zeros + np.uint64(stream >> 32)],
                          [seed & 0xFFFFFFFF, seed >> 32])
    lane = (i % np.uint64(4)).astype(np.int64)
    bits = np.choose(lane, words).astype(np.uint32)
    lower32, upper32 = np.float32(lower), np.float32(upper)
    span = np.float32(upper32 - lower32)
    top = np.nextafter(upper32, np.float32(-np.inf)) if lower32 != upper32 else lower32
    u = (bits >> np.uint32(8)).astype(np.float32) * np.float32(2.0 ** -24)
    return np.minimum(lower32 + u * span, top).astype(np.float32)


def mask_words(predicate):
    # Blocks of 8192 elements, 256 words each (a partial one a word per
    # started vec4): element r of a block is bit 4 * (r // 1024) + r % 4 of
    # the block's word (r // 4) % 256.
    bits = predicate.numpy()
    n = len(bits)
    rest = n % 8192
    words = np.zeros(n // 8192 * 256 + min(256, -(-rest // 4)), dtype=np.uint32)
    for i in np.nonzero(bits)[0]:
        r = i % 8192
        words[i // 8192 * 256 + (r // 4) % 256] |= np.uint32(1 << (4 * (r // 1024) + r % 4))
    return words


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden")
    rng = np.random.default_rng(20261201)
    rng_training = np.random.default_rng(20261215)
    torch.set_flush_denormal(False)
    for dtype, specials in (("f32", F32_SPECIALS), ("f16", F16_SPECIALS)):
        folder = os.path.join(root, dtype)
        os.makedirs(folder, exist_ok=True)
        width = 4 if dtype == "f32" else 2
        n = len(specials)
        xs = [specials[i] for i in range(n) for _ in range(n)] + random_bits(rng, RANDOM, dtype)
        gs = [specials[j] for _ in range(n) for j in range(n)] + random_bits(rng, RANDOM, dtype)
        x, g = tensor(xs, dtype), tensor(gs, dtype)
        write(folder, "x", xs, width)
        write(folder, "g", gs, width)
        write(folder, "relu_forward", bits_of(torch.relu(x), dtype), width)
        write(folder, "relu_backward", bits_of(torch.ops.aten.threshold_backward(g, x, 0), dtype), width)
        slopes = [float(np.float32(s)) for s in SLOPES]
        write(folder, "slopes", np.array(slopes, dtype=np.float32).view(np.uint32), 4)
        for k, s in enumerate(slopes):
            fwd = torch.nn.functional.leaky_relu(x, s)
            bwd = torch.ops.aten.leaky_relu_backward(g, x, s, False)
            write(folder, f"leaky_forward_{k}", bits_of(fwd, dtype), width)
            write(folder, f"leaky_backward_{k}", bits_of(bwd, dtype), width)

        ws = list(specials) + random_bits(rng, PRELU_RANDOM_WEIGHTS, dtype)
        c, k = len(ws), n + PRELU_RANDOM_VALUES
        px, pg = [], []
        for b in range(2):
            for ch in range(c):
                px += list(specials) + random_bits(rng, PRELU_RANDOM_VALUES, dtype)
                pg += [specials[(j + ch + 3 * b) % n] for j in range(n)]
                pg += random_bits(rng, PRELU_RANDOM_VALUES, dtype)
        x3 = tensor(px, dtype).reshape(2, c, k).requires_grad_(True)
        w = tensor(ws, dtype).requires_grad_(True)
        g3 = tensor(pg, dtype).reshape(2, c, k)
        y = torch.nn.functional.prelu(x3, w)
        y.backward(g3)
        write(folder, "prelu_shape", [2, c, k], 4)
        write(folder, "prelu_x", px, width)
        write(folder, "prelu_g", pg, width)
        write(folder, "prelu_w", ws, width)
        write(folder, "prelu_forward", bits_of(y, dtype), width)
        write(folder, "prelu_backward", bits_of(x3.grad, dtype), width)
        write(folder, "prelu_weight_grad", bits_of(w.grad, dtype), width)

        write(folder, "relu_mask", mask_words(~(x <= 0)), 4)
        write(folder, "leaky_mask", mask_words(x > 0), 4)
        relu_y = torch.relu(x)
        write(folder, "relu_backward_from_output",
              bits_of(torch.ops.aten.threshold_backward(g, relu_y, 0), dtype), width)
        for i, s in enumerate(slopes):
            if s >= 0:
                y_i = torch.nn.functional.leaky_relu(x, s)
                bwd = torch.ops.aten.leaky_relu_backward(g, y_i, s, True)
                write(folder, f"leaky_backward_from_output_{i}", bits_of(bwd, dtype), width)
        accs = [specials[(i + 7 * j) % n] for i in range(n) for j in range(n)]
        accs += random_bits(rng_training, RANDOM, dtype)
        acc = tensor(accs, dtype)
        write(folder, "acc", accs, width)
        write(folder, "relu_backward_acc",
              bits_of(acc + torch.ops.aten.threshold_backward(g, x, 0), dtype), width)
        for i, s in enumerate(slopes):
            bwd = torch.ops.aten.leaky_relu_backward(g, x, s, False)
            write(folder, f"leaky_backward_acc_{i}", bits_of(acc + bwd, dtype), width)
        paccs = [specials[(i * 5) % n] for i in range(len(px) // 2)]
        paccs += random_bits(rng_training, len(px) - len(paccs), dtype)
        write(folder, "prelu_acc", paccs, width)
        write(folder, "prelu_backward_acc",
              bits_of(tensor(paccs, dtype).reshape(2, c, k) + x3.grad, dtype), width)
        slopes_r = rrelu_slopes(len(xs), RRELU_SEED, RRELU_STREAM, RRELU_LOWER, RRELU_UPPER)
        write(folder, "rrelu_slopes", slopes_r.view(np.uint32), 4)
        a = torch.from_numpy(slopes_r.copy())
        if dtype == "f32":
            write(folder, "rrelu_forward", bits_of(torch.where(x <= 0, x * a, x), dtype), width)
            noise = torch.where(x <= 0, a, torch.ones_like(a))
            bwd = torch.ops.aten.rrelu_with_noise_backward(
                g, x, noise, RRELU_LOWER, RRELU_UPPER, True, False)
            write(folder, "rrelu_backward", bits_of(bwd, dtype), width)
        xe = x.clone().requires_grad_(True)
        ye = torch.nn.functional.rrelu(xe, RRELU_LOWER, RRELU_UPPER, training=False)
        ye.backward(g)
        write(folder, "rrelu_eval_forward", bits_of(ye, dtype), width)
        write(folder, "rrelu_eval_backward", bits_of(xe.grad, dtype), width)
    print("torch", torch.__version__, "->", os.path.normpath(root))


if __name__ == "__main__":
    main()
