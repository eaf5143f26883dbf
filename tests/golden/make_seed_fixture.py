#!/usr/bin/env python3
"""Generate the golden fixture for the imgcls "seed" CNN.

This is a PyTorch reference implementation of the seed model that the C++
tests compare against.  It writes a safetensors file containing a fixed
input batch, labels, the initial weights, the forward logits and loss, the
gradients of the loss at the initial weights, and the loss trajectory and
final weights of 10 Adam steps on the same batch.

Model (activations NHWC on the C++ side):
    Conv2D(32, 3x3, valid) + ReLU -> MaxPool(2x2, stride 2)
    Conv2D(64, 3x3, valid) + ReLU -> MaxPool(2x2, stride 2)
    Flatten (NHWC order: index = (h*5 + w)*64 + c)
    Dense(64) + ReLU -> Dense(10) logits
    loss = mean sparse categorical cross-entropy of softmax(logits)

Layouts: "input" is NHWC [8, 28, 28, 1]; conv weights are OIHW; dense
weights are [out, in], with fc1's input index in the HWC flatten order above.
Stored tensors are float32 (labels int32).  The initial weights and input
are drawn in float32; the reference forward/backward pass and the Adam
trajectory are computed in float64 from those values and cast to float32.

Adam follows torch.optim.Adam (lr=1e-3, betas=(0.9, 0.999), eps=1e-7):
    m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2
    p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)

The safetensors file is written by hand (no safetensors package needed).

Usage (from the repository root):
    /usr/bin/python3 tests/golden/make_seed_fixture.py [OUTPUT_PATH]

OUTPUT_PATH defaults to tests/golden/seed_fixture.safetensors in the repo.
"""

import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SEED = 1234
BATCH = 8
LABELS = [3, 1, 4, 1, 5, 9, 2, 6]
ADAM_STEPS = 10
ADAM_LR = 1e-3
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-7

PARAM_NAMES = [
    "conv1.weight", "conv1.bias",
    "conv2.weight", "conv2.bias",
    "fc1.weight", "fc1.bias",
    "fc2.weight", "fc2.bias",
]

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
DEFAULT_OUTPUT = os.path.join(REPO_ROOT, "tests", "golden",
                              "seed_fixture.safetensors")


class SeedNet(nn.Module):
    """The seed CNN; takes NHWC input, flattens in NHWC (Keras) order."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.fc1 = nn.Linear(5 * 5 * 64, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x_nhwc):
        x = x_nhwc.permute(0, 3, 1, 2)                 # NHWC -> NCHW
        x = F.max_pool2d(F.relu(self.conv1(x)), 2, 2)  # [B, 32, 13, 13]
        x = F.max_pool2d(F.relu(self.conv2(x)), 2, 2)  # [B, 64, 5, 5]
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # HWC flatten
        x = F.relu(self.fc1(x))
        return self.fc2(x)


def make_initial_state():
    """Draw the input and initial parameters in float32 with a fixed seed."""
    torch.manual_seed(SEED)
    x = torch.rand(BATCH, 28, 28, 1, dtype=torch.float32)
    model = SeedNet().float()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("weight"):
                nn.init.xavier_uniform_(p)
            else:
                nn.init.uniform_(p, -0.1, 0.1)
    y = torch.tensor(LABELS, dtype=torch.int64)
    return x, y, model


def f32(t):
    """Detached float32 numpy copy of a tensor (C-contiguous)."""
    return np.ascontiguousarray(t.detach().to(torch.float32).cpu().numpy())


def write_safetensors(path, tensors, metadata):
    """Write an ordered list of (name, np.ndarray) pairs as safetensors."""
    dtype_names = {np.dtype("float32"): "F32", np.dtype("int32"): "I32"}
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name, arr in tensors:
        arr = np.ascontiguousarray(arr)
        data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {
            "dtype": dtype_names[arr.dtype],
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        for data in blobs:
            f.write(data)


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUTPUT
    torch.set_num_threads(1)

    x32, y, model32 = make_initial_state()
    init_params = {n: p.detach().clone() for n, p in
                   model32.named_parameters()}

    # Reference forward/backward in float64 from the float32 values.
    model = SeedNet().double()
    model.load_state_dict({n: p.double() for n, p in init_params.items()})
    x = x32.double()
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}

    # Adam trajectory in float64, starting again from the initial weights.
    model.load_state_dict({n: p.double() for n, p in init_params.items()})
    model.zero_grad(set_to_none=True)
    opt = torch.optim.Adam(model.parameters(), lr=ADAM_LR, betas=ADAM_BETAS,
                           eps=ADAM_EPS, foreach=False)
    adam_losses = []
    for _ in range(ADAM_STEPS):
        opt.zero_grad(set_to_none=True)
        step_loss = F.cross_entropy(model(x), y)
        step_loss.backward()
        opt.step()
        adam_losses.append(step_loss.item())
    adam_params = dict(model.named_parameters())

    tensors = [
        ("input", f32(x32)),
        ("labels", y.to(torch.int32).numpy()),
    ]
    tensors += [(n, f32(init_params[n])) for n in PARAM_NAMES]
    tensors += [
        ("logits", f32(logits)),
        ("loss", f32(loss.reshape(1))),
    ]
    tensors += [("grad." + n, f32(grads[n])) for n in PARAM_NAMES]
    tensors.append(("adam.loss", np.asarray(adam_losses, dtype=np.float32)))
    tensors += [("adam." + n, f32(adam_params[n])) for n in PARAM_NAMES]

    metadata = {
        "generator": "tests/golden/make_seed_fixture.py",
        "description": (
            "imgcls seed CNN reference (PyTorch %s, computed in float64, "
            "stored float32). input NHWC [8,28,28,1] uniform[0,1] seed %d; "
            "conv OIHW, dense [out,in], fc1 input in HWC flatten order "
            "(h*5+w)*64+c; Glorot-uniform kernels, biases U(-0.1,0.1); "
            "loss = mean sparse CE; grad.* = d loss / d param at init; "
            "adam.* = %d steps of Adam(lr=%g, betas=%s, eps=%g) on the same "
            "batch, adam.loss[k] = loss in the forward pass of step k."
            % (torch.__version__, SEED, ADAM_STEPS, ADAM_LR,
               ADAM_BETAS, ADAM_EPS)),
    }
    write_safetensors(out_path, tensors, metadata)

    print("wrote %s" % out_path, file=sys.stderr)
    print("loss = %.7f" % loss.item(), file=sys.stderr)
    print("adam.loss = %s" % ", ".join("%.7f" % v for v in adam_losses),
          file=sys.stderr)


if __name__ == "__main__":
    main()
