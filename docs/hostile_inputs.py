#!/usr/bin/env python3
"""Feeds imgcls hostile inputs through its command line and prints what it does with each,
as the rows of the table in docs/robustness.md: the input, the command, the exit code and
the first line imgcls printed on stderr.

    python3 docs/hostile_inputs.py build/imgcls > /tmp/rows.md

Every input is made here, in a scratch folder that is removed afterwards; commands run
inside it, so the messages show short relative paths. Uses the fixture model of
tests/fixtures, the seed model of fuzz/corpus/model (it has a CRC), pictures of
tests/images and the crashing inputs of tests/fuzz_regressions. Run it as root for the
read-only folder case (chattr +i).
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(REPO, "tests/fixtures/seed_model.safetensors")
CRC_MODEL = os.path.join(REPO, "fuzz/corpus/model/model.safetensors")  # has data_crc32
DIGIT = os.path.join(REPO, "tests/images/digits/hand_004.pgm")
FORMATS = os.path.join(REPO, "tests/images/formats")
REGRESSIONS = os.path.join(REPO, "tests/fuzz_regressions")


# --- IDX ---------------------------------------------------------------------------------

def idx(type_byte, dims, data):
    return bytes([0, 0, type_byte, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data


GOOD_IMAGES = idx(8, [3, 28, 28], bytes(3 * 28 * 28))
GOOD_LABELS = idx(8, [3], bytes([7, 0, 9]))


def gzip_bytes(data):
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


# --- safetensors ---------------------------------------------------------------------------

def split(container):
    (size,) = struct.unpack("<Q", container[:8])
    return json.loads(container[8:8 + size]), container[8 + size:]


def join(header, data, fix_crc=True):
    if fix_crc and "__metadata__" in header and "data_crc32" in header["__metadata__"]:
        header["__metadata__"]["data_crc32"] = "%08x" % (zlib.crc32(data) & 0xffffffff)
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def model_with(edit, fix_crc=True, source=MODEL):
    header, data = split(open(source, "rb").read())
    data = bytearray(data)
    edit(header, data)
    return join(header, bytes(data), fix_crc)


def metadata_model(architecture, **extra):
    meta = {"format": "imgcls-model", "version": "1", "architecture": architecture}
    meta.update(extra)
    return join({"__metadata__": meta}, b"")


def set_meta(key, value):
    def edit(header, _data):
        header["__metadata__"][key] = value
    return edit


# --- pictures ------------------------------------------------------------------------------

def png_chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png(width, height, rows=None, extra_chunks=b""):
    head = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    if rows is None:
        return head  # the header alone
    return head + extra_chunks + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b"")


WHITE_PNG = png(8, 8, b"".join(b"\x00" + b"\xff" * 8 for _ in range(8)))
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00;"
TGA = bytes([0, 0, 3] + [0] * 9 + [1, 0, 1, 0, 8, 0, 0x80])
# An unknown critical chunk whose type is ESC [ 2 J: "clear the screen", if printed raw.
ESCAPE_PNG = png(8, 8, b"".join(b"\x00" + b"\xff" * 8 for _ in range(8)),
                 extra_chunks=png_chunk(b"\x1b[2J", b""))


def read(path):
    return open(path, "rb").read()


def cases():
    """(name, files to write {name: bytes}, command arguments, setup step or None)."""
    jpeg = read(os.path.join(FORMATS, "pattern_jpeg.jpg"))
    png_rgb = read(os.path.join(FORMATS, "pattern_png-rgb.png"))
    evaluate = ["evaluate", MODEL, "--data", "data"]

    def idx_case(name, images, labels=GOOD_LABELS, images_name="t10k-images-idx3-ubyte"):
        return (name, {"data/" + images_name: images, "data/t10k-labels-idx1-ubyte": labels}, evaluate)

    out = [
        idx_case("IDX: bad magic (first byte 0x1f)", b"\x1f" + GOOD_IMAGES[1:]),
        idx_case("IDX: element type float32 (0x0d)", GOOD_IMAGES[:2] + b"\x0d" + GOOD_IMAGES[3:]),
        idx_case("IDX: a label file where images belong", GOOD_LABELS),
        idx_case("IDX: header cut at 10 bytes", GOOD_IMAGES[:10]),
        idx_case("IDX: empty file", b""),
        idx_case("IDX: data one byte short", GOOD_IMAGES[:-1]),
        idx_case("IDX: two bytes after the data", GOOD_IMAGES + b"\x00\x00"),
        idx_case("IDX: a dimension of zero", idx(8, [3, 0, 28], b"")),
        idx_case("IDX: 100000 rows per image", idx(8, [3, 100000, 28], b"")),
        idx_case("IDX: 4 billion images of 4096x4096 promised, none present", idx(8, [0xffffffff, 4096, 4096], b"")),
        idx_case("IDX: 4 labels for 3 images", GOOD_IMAGES, idx(8, [4], bytes(4))),
        idx_case("IDX .gz: corrupt deflate data", gzip_bytes(GOOD_IMAGES)[:12] + b"\xa5" * 40,
                 images_name="t10k-images-idx3-ubyte.gz"),
        idx_case("IDX .gz: stream cut short", gzip_bytes(GOOD_IMAGES)[:-8], images_name="t10k-images-idx3-ubyte.gz"),
        idx_case("IDX .gz: junk after the stream", gzip_bytes(GOOD_IMAGES) + b"junk",
                 images_name="t10k-images-idx3-ubyte.gz"),
        ("IDX: folder without the files", {"data/readme.txt": b"x"}, evaluate),
    ]

    def picture(name, data, file_name):
        return (name, {file_name: data}, ["predict", MODEL, file_name])

    out += [
        picture("Picture: empty file", b"", "empty.png"),
        picture("Picture: text", b"this is not a picture at all\n", "notes.jpg"),
        picture("Picture: PNG cut in half", png_rgb[: len(png_rgb) // 2], "half.png"),
        picture("Picture: PNG header claiming 100000x100000", png(100000, 100000), "huge.png"),
        picture("Picture: PNG header claiming 8000x8000 (64 Mpixel)", png(8000, 8000), "many.png"),
        picture("Picture: BMP header claiming 8355711x16",
                b"BM" + bytes(12) + b"\x28" + bytes(3) + b"\x7f\x7f\x7f\x00\x10" + bytes(3), "wide.bmp"),
        picture("Picture: JPEG start-of-frame claiming 60000x50000",
                b"\xff\xd8\xff\xc0\x00\x11\x08\xc3\x50\xea\x60\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01", "huge.jpg"),
        picture("Picture: JPEG Huffman table of more than 256 codes (fuzz finding)",
                read(os.path.join(REGRESSIONS, "image/jpeg-dht-over-256-codes.jpg")), "dht.jpg"),
        picture("Picture: JPEG cut at two thirds", jpeg[: len(jpeg) * 2 // 3], "cut.jpg"),
        picture("Picture: PGM width of 54 digits (fuzz finding)",
                read(os.path.join(REGRESSIONS, "image/pgm-width-overflows-int.pgm")), "digits.pgm"),
        picture("Picture: PGM maximum value 0", b"P5 1 1 0\n\x00", "zero.pgm"),
        picture("Picture: ASCII PGM (P2)", b"P2 1 1 255\n128\n", "ascii.pgm"),
        picture("Picture: a valid GIF", GIF, "digit.gif"),
        picture("Picture: a valid TGA (stb_image would read it)", TGA, "digit.tga"),
        picture("Picture: PNG with a chunk named ESC[2J", ESCAPE_PNG, "escape.png"),
        picture("Picture: PNG whose IDAT length claims 2 GiB (fuzz finding)",
                png(16, 12) + struct.pack(">I", 0x80000000) + b"IDAT" + b"\x78\x9c" + b"\x00" * 64,
                "claims.png"),
        picture("Picture: 4x4 PNG whose data inflates to 64 MiB",
                png(4, 4, b"\x00" * (64 << 20)), "bomb.png"),
        picture("Picture: all white (no digit)", WHITE_PNG, "blank.png"),
        ("Picture: folder without pictures", {"pictures/notes.txt": b"x"}, ["predict", MODEL, "pictures"]),
    ]

    def model(name, data):
        return (name, {"model.safetensors": data}, ["predict", "model.safetensors", DIGIT])

    def set_offsets(tensor, begin, end):
        def edit(header, _data):
            header[tensor]["data_offsets"] = [begin, end]
        return edit

    def shape(tensor, value):
        def edit(header, _data):
            header[tensor]["shape"] = value
        return edit

    def nan_weight(header, data):
        begin = header["dense_6.weight"]["data_offsets"][0]
        data[begin:begin + 4] = struct.pack("<f", float("nan"))

    def drop(tensor):
        def edit(header, data):
            begin, end = header[tensor]["data_offsets"]
            del data[begin:end]
            del header[tensor]
            for entry in header.values():
                if "data_offsets" in entry and entry["data_offsets"][0] >= end:
                    entry["data_offsets"] = [o - (end - begin) for o in entry["data_offsets"]]
        return edit

    def extra_tensor(header, data):
        header["stowaway"] = {"dtype": "F32", "shape": [1], "data_offsets": [len(data), len(data) + 4]}
        data += bytes(4)

    def flip_data_byte(header, data):
        data[100] ^= 0xff

    def header_length(value):
        good = read(MODEL)
        return struct.pack("<Q", value) + good[8:]

    good = read(MODEL)
    deep = "[" * 100000 + "]" * 100000
    flat = '{"input_shape": [4, 4, 1], "layers": [{"type": "Flatten"}, {"type": "Dense", "units": 2}]}'
    out += [
        model("Model: junk bytes", b"junk"),
        model("Model: last 4 bytes cut off", good[:-4]),
        model("Model: header length 2^40", header_length(1 << 40)),
        model("Model: header that is not JSON", struct.pack("<Q", 20) + b"{" + b"x" * 19 + good[8 + 20:]),
        model("Model: header nested 100000 deep", struct.pack("<Q", 200001) + b"[" * 100000 + b"1" + b"]" * 100000),
        model("Model: data_offsets past the end", model_with(set_offsets("dense_6.bias", 0, 10 ** 9))),
        model("Model: two tensors sharing bytes", model_with(set_offsets("conv2d_0.bias", 0, 128))),
        model("Model: a parameter of the wrong shape", model_with(shape("conv2d_0.weight", [32, 1, 9, 1]))),
        model("Model: a missing parameter", model_with(drop("dense_6.bias"))),
        model("Model: an extra tensor", model_with(extra_tensor)),
        model("Model: a NaN weight (CRC updated)", model_with(nan_weight)),
        model("Model: one data byte flipped (CRC not updated)",
              model_with(flip_data_byte, fix_crc=False, source=CRC_MODEL)),
        model("Model: one data byte flipped in a file without data_crc32 (written before it existed)",
              model_with(flip_data_byte, fix_crc=False)),
        model("Model: format \"pytorch\"", model_with(set_meta("format", "pytorch"))),
        model("Model: version 2", model_with(set_meta("version", "2"))),
        model("Model: shape [2^32, 2^32] (element count wraps to 0)",
              join({"huge": {"dtype": "F32", "shape": [1 << 32, 1 << 32], "data_offsets": [0, 0]}}, b"")),
        model("Model: architecture nested 100000 deep", metadata_model(deep)),
        model("Model: input shape 65536x65536x65536",
              metadata_model('{"input_shape": [65536, 65536, 65536], "layers": [{"type": "Flatten"}]}')),
        model("Model: Dense layer of 2^46 weights",
              metadata_model('{"input_shape": [4096, 4096, 4], "layers": [{"type": "Flatten"},'
                             ' {"type": "Dense", "units": 1048576}]}')),
        model("Model: output [2, 2, 1], not a list of classes",
              metadata_model('{"input_shape": [4, 4, 1], "layers": [{"type": "MaxPool2D"}]}')),
        model("Model: class name holding ESC[2J", metadata_model(flat, class_names='["cat", "\\u001b[2J"]')),
        model("Model: 3 class names for 2 outputs", metadata_model(flat, class_names='["a", "b", "c"]')),
    ]

    def arch(name, text):
        return (name, {"arch.json": text.encode() if isinstance(text, str) else text},
                ["train", "--arch", "arch.json", "--epochs", "1", "--out", "out.safetensors"])

    out += [
        arch("Architecture: not JSON", "{input_shape: 28x28}"),
        arch("Architecture: unknown top-level key",
             '{"input_shape": [28, 28, 1], "layers": [{"type": "Flatten"}], "optimizer": "adam"}'),
        arch("Architecture: unknown layer type",
             '{"input_shape": [28, 28, 1], "layers": [{"type": "Flatten3D"}]}'),
        arch("Architecture: 5x5 kernel on a 3x3 input",
             '{"input_shape": [3, 3, 1], "layers": [{"type": "Conv2D", "filters": 2, "kernel_size": 5}]}'),
        arch("Architecture: filters given as a string",
             '{"input_shape": [28, 28, 1], "layers": [{"type": "Conv2D", "filters": "32"}]}'),
        arch("Architecture: 2^21 filters",
             '{"input_shape": [28, 28, 1], "layers": [{"type": "Conv2D", "filters": 2097152}]}'),
        arch("Architecture: activations of 2^30 values per sample",
             '{"input_shape": [1024, 1024, 1], "layers": [{"type": "Conv2D", "filters": 1024, "kernel_size": 1}]}'),
        arch("Architecture: nested 100000 deep", deep),
        arch("Architecture: a 2 MiB file", '{"input_shape": [28, 28, 1], "layers": []}' + " " * (2 << 20)),
    ]

    def checkpoint(name, edit_state=None, **meta):
        def make(directory):
            subprocess.run([BINARY, "train", "--arch", "lenet5", "--data", "data", "--epochs", "1",
                            "--out", "m.safetensors"], cwd=directory, capture_output=True, check=False)
            path = os.path.join(directory, "m.checkpoint.safetensors")
            header, data = split(read(path))
            if edit_state:
                state = json.loads(header["__metadata__"]["state"])
                edit_state(state)
                header["__metadata__"]["state"] = json.dumps(state)
            header["__metadata__"].update(meta)
            open(path, "wb").write(join(header, data))
        return (name, TRAIN_DATA, ["train", "--arch", "lenet5", "--data", "data", "--epochs", "2",
                                   "--out", "m.safetensors", "--resume", "m.checkpoint.safetensors"], make)

    def huge_epoch(state):
        state["epoch"] = 1e300

    out += [
        checkpoint("Checkpoint: epoch 1e300", huge_epoch),
        checkpoint("Checkpoint: optimizer_steps -5", optimizer_steps="-5"),
        ("Checkpoint: a model file given to --resume", dict(TRAIN_DATA, **{"m.safetensors": read(MODEL)}),
         ["train", "--arch", "seed", "--data", "data", "--epochs", "1", "--out", "n.safetensors",
          "--resume", "m.safetensors"]),
    ]

    def immutable(directory):
        os.makedirs(os.path.join(directory, "seen"), exist_ok=True)
        subprocess.run(["chattr", "+i", os.path.join(directory, "seen")], check=True)

    out += [
        ("Write: --save-preprocessed into a read-only (immutable) folder", {},
         ["predict", MODEL, DIGIT, "--save-preprocessed", "seen"], immutable),
        ("Write: --save-preprocessed into a folder that is a file", {"seen": b"a file"},
         ["predict", MODEL, DIGIT, "--save-preprocessed", "seen/sub"]),
    ]
    return out


TRAIN_IMAGES = idx(8, [8, 28, 28], bytes(8 * 28 * 28))
TRAIN_LABELS = idx(8, [8], bytes(range(8)))
TRAIN_DATA = {"data/train-images-idx3-ubyte": TRAIN_IMAGES, "data/train-labels-idx1-ubyte": TRAIN_LABELS,
              "data/t10k-images-idx3-ubyte": TRAIN_IMAGES, "data/t10k-labels-idx1-ubyte": TRAIN_LABELS}


def main():
    global BINARY
    if len(sys.argv) != 2:
        sys.exit("usage: docs/hostile_inputs.py <imgcls binary>")
    BINARY = os.path.abspath(sys.argv[1])
    print("| # | Input | Command | Exit | What imgcls says (stderr) |")
    print("|---|---|---|---|---|")
    for number, case in enumerate(cases(), 1):
        name, files, args = case[:3]
        setup = case[3] if len(case) > 3 else None
        directory = tempfile.mkdtemp(prefix="imgcls_hostile_")
        try:
            for relative, data in files.items():
                path = os.path.join(directory, relative)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                open(path, "wb").write(data)
            if setup:
                setup(directory)
            result = subprocess.run([BINARY] + args, cwd=directory, capture_output=True, timeout=600)
            lines = [line for line in result.stderr.decode("utf-8", "replace").splitlines()
                     if line.startswith("imgcls:") or "Error" in line or "error" in line]
            said = (lines[0] if lines else "(nothing)").replace(directory + "/", "").replace(REPO + "/", "")
            shown = " ".join(a.replace(REPO + "/", "") for a in args)
            print(f"| {number} | {name} | `imgcls {shown}` | {result.returncode} | "
                  f"{said.replace('|', '/')} |")
        finally:
            subprocess.run(["chattr", "-R", "-i", directory], capture_output=True, check=False)
            shutil.rmtree(directory, ignore_errors=True)


BINARY = None
if __name__ == "__main__":
    main()
