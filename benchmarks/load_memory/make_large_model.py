#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes a large float32 Keras model for the load-memory measurement (load_memory.cpp):
Sequential Dense(2048, relu) x 6 on 2048 inputs, 100.7 MB of weights, as a legacy tf.keras 2.15
full-model .h5 and as a Keras 3 .keras archive, in the layouts those Keras versions write
(model_config + model_weights/<layer>/<layer>/kernel:0; config.json + model.weights.h5 with
layers/<key>/vars/<i>, stored uncompressed as Keras does). Weights are seeded random values; the
files are not committed (they are 100 MB each): run

    /usr/bin/python3 benchmarks/load_memory/make_large_model.py OUTDIR

(Debian's python3-numpy and python3-h5py)."""

import io
import json
import os
import sys
import zipfile

import h5py
import numpy as np

LAYERS, WIDTH = 6, 2048


def weights():
    rng = np.random.default_rng(20261207)
    for _ in range(LAYERS):
        yield (rng.standard_normal((WIDTH, WIDTH), dtype=np.float32) * 0.02,
               rng.standard_normal((WIDTH,), dtype=np.float32) * 0.02)


def names():
    return ["dense" if i == 0 else f"dense_{i}" for i in range(LAYERS)]


def dense_config(name):
    return {"name": name, "trainable": True, "dtype": "float32", "units": WIDTH, "activation": "relu",
            "use_bias": True}


def write_h5(path):
    layers = [{"class_name": "InputLayer",
               "config": {"batch_input_shape": [None, WIDTH], "dtype": "float32", "name": "input"}}]
    layers += [{"class_name": "Dense", "config": dense_config(n)} for n in names()]
    config = {"class_name": "Sequential", "config": {"name": "large", "layers": layers}}
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(config).encode("utf8")
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = [n.encode("utf8") for n in names()]
        for n, (kernel, bias) in zip(names(), weights()):
            lg = g.create_group(n)
            lg.attrs["weight_names"] = [f"{n}/kernel:0".encode("utf8"), f"{n}/bias:0".encode("utf8")]
            lg.create_dataset(f"{n}/kernel:0", data=kernel)
            lg.create_dataset(f"{n}/bias:0", data=bias)


def write_keras(path):
    layers = [{"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
               "config": {"batch_shape": [None, WIDTH], "dtype": "float32", "name": "input_layer"}}]
    layers += [{"module": "keras.layers", "class_name": "Dense", "registered_name": None,
                "config": dense_config(n)} for n in names()]
    config = {"module": "keras", "class_name": "Sequential", "registered_name": None,
              "config": {"name": "large", "layers": layers}}
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        for n, (kernel, bias) in zip(names(), weights()):
            v = f.create_group(f"layers/{n}/vars")
            v.create_dataset("0", data=kernel)
            v.create_dataset("1", data=bias)
    with zipfile.ZipFile(path, "w") as z:  # ZIP_STORED, as Keras 3's saving_lib
        z.writestr("metadata.json", json.dumps({"keras_version": "3.6.0"}))
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", buf.getvalue())


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out, exist_ok=True)
    write_h5(os.path.join(out, "large.h5"))
    write_keras(os.path.join(out, "large.keras"))
    print(f"wrote {out}/large.h5 and {out}/large.keras: {LAYERS} x Dense({WIDTH}), "
          f"{LAYERS * (WIDTH * WIDTH + WIDTH) * 4 / 1e6:.1f} MB of float32 weights")
