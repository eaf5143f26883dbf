#!/usr/bin/env python3
"""Generate the PyTorch reference for imgcls's explanations on the seed model.

Loads the trained seed model of tests/fixtures/seed_model.safetensors (an imgcls model
file: safetensors with OIHW convolution weights and [out, in] dense weights, the dense
input flattened in HWC order) into PyTorch, and for the first IMAGES MNIST test images
computes, in float64:

    classes          [IMAGES, 2] int32: the most probable class and the runner-up
    input            [IMAGES, 28, 28, 1] the images, NHWC, in [0, 1]
    input_gradient   [IMAGES, 2, 28, 28, 1] d(logit of the class) / d(input)
    gradcam_conv2d_2 [IMAGES, 2, 28, 28] Grad-CAM on the second convolution's output
                     (after its ReLU): ReLU(sum_k alpha_k A_k), alpha_k the mean over
                     h x w of d(logit)/d(A_k), upsampled with F.interpolate(mode="bilinear",
                     align_corners=False)
    gradcam_maxpool2d_3 [IMAGES, 2, 28, 28] the same on the pooling after it (5 x 5)

and writes them as float32 (classes int32) to tests/explain/gradcam_fixture.safetensors.
The test (tests/explain_test.cpp) only reads the committed file; torch is needed only to
regenerate it.

Usage (from the repository root, with MNIST in data/mnist):
    /usr/bin/python3 tests/explain/make_gradcam_fixture.py [OUTPUT_PATH]
"""

import gzip
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

IMAGES = 4
SIDE = 28
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(REPO_ROOT, "tests", "fixtures", "seed_model.safetensors")
MNIST = os.path.join(REPO_ROOT, "data", "mnist", "t10k-images-idx3-ubyte")
DEFAULT_OUTPUT = os.path.join(REPO_ROOT, "tests", "explain", "gradcam_fixture.safetensors")


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    body = data[8 + length:]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        assert entry["dtype"] == "F32", (name, entry["dtype"])
        start, end = entry["data_offsets"]
        tensors[name] = np.frombuffer(body[start:end], dtype="<f4").reshape(entry["shape"])
    return tensors


def read_mnist_images(path, count):
    opener = open
    if not os.path.exists(path):
        path += ".gz"
        opener = gzip.open
    with opener(path, "rb") as f:
        magic, n, rows, columns = struct.unpack(">IIII", f.read(16))
        assert magic == 2051 and rows == SIDE and columns == SIDE, (magic, rows, columns)
        pixels = np.frombuffer(f.read(count * SIDE * SIDE), dtype=np.uint8)
    return pixels.reshape(count, SIDE, SIDE, 1).astype(np.float32) / 255.0


def t64(array):
    return torch.tensor(np.array(array), dtype=torch.float64)


class Seed:
    """The seed model in NCHW, keeping the activations Grad-CAM reads."""

    def __init__(self, weights):
        self.w = {name: t64(value) for name, value in weights.items()}

    def forward(self, x_nhwc):
        w = self.w
        x = x_nhwc.permute(0, 3, 1, 2)
        self.conv2d_0 = F.relu(F.conv2d(x, w["conv2d_0.weight"], w["conv2d_0.bias"]))
        self.maxpool2d_1 = F.max_pool2d(self.conv2d_0, 2)
        self.conv2d_2 = F.relu(F.conv2d(self.maxpool2d_1, w["conv2d_2.weight"], w["conv2d_2.bias"]))
        self.maxpool2d_3 = F.max_pool2d(self.conv2d_2, 2)
        if x.requires_grad:
            for name in ("conv2d_2", "maxpool2d_3"):
                getattr(self, name).retain_grad()
        flat = self.maxpool2d_3.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # HWC order
        hidden = F.relu(F.linear(flat, w["dense_5.weight"], w["dense_5.bias"]))
        return F.linear(hidden, w["dense_6.weight"], w["dense_6.bias"])


def gradcam(activation, gradient):
    """activation, gradient [1, K, h, w] -> the map [28, 28]."""
    alpha = gradient.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((alpha * activation).sum(dim=1, keepdim=True))
    return F.interpolate(cam, size=(SIDE, SIDE), mode="bilinear", align_corners=False)[0, 0]


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
    output = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUTPUT
    model = Seed(read_safetensors(MODEL))
    images = read_mnist_images(MNIST, IMAGES)
    classes = np.zeros((IMAGES, 2), dtype=np.int32)
    input_gradient = np.zeros((IMAGES, 2, SIDE, SIDE, 1))
    maps = {name: np.zeros((IMAGES, 2, SIDE, SIDE)) for name in ("conv2d_2", "maxpool2d_3")}
    for n in range(IMAGES):
        with torch.no_grad():
            logits = model.forward(t64(images[n:n + 1]))[0]
        order = torch.argsort(logits, descending=True)
        classes[n] = [int(order[0]), int(order[1])]
        for i, k in enumerate(classes[n]):
            x = t64(images[n:n + 1]).requires_grad_(True)
            model.forward(x)[0, int(k)].backward()
            input_gradient[n, i] = x.grad[0].numpy()
            for name in maps:
                maps[name][n, i] = gradcam(getattr(model, name), getattr(model, name).grad).detach().numpy()
    tensors = [
        ("classes", classes),
        ("input", images.astype(np.float32)),
        ("input_gradient", input_gradient.astype(np.float32)),
        ("gradcam_conv2d_2", maps["conv2d_2"].astype(np.float32)),
        ("gradcam_maxpool2d_3", maps["maxpool2d_3"].astype(np.float32)),
    ]
    write_safetensors(output, tensors, {"generator": "tests/explain/make_gradcam_fixture.py",
                                        "torch": torch.__version__})
    print(f"wrote {output}: classes {classes.tolist()}")


if __name__ == "__main__":
    main()
