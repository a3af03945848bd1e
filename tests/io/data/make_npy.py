#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the committed .npy files in this folder with numpy (Debian: python3-numpy).

Run from anywhere, with a Python that has numpy (on Debian /usr/bin/python3):

    python3 tests/io/data/make_npy.py

The tests read these files at test time without Python:

- numpy_*.npy: tiny arrays written by np.save, which tests/io/test_npy_csv.cpp reads to prove that
  real numpy files load (their values are the formulas below, repeated in the test).
- two_outputs/model.json, two_outputs_input.{npy,csv}, two_outputs_batch1.csv,
  two_outputs_expected_{1,2}.npy: a weightless
  TF.js model with two outputs (relu and tanh of its input) for strata-predict's naming of several
  outputs; the expected values come from numpy.
- seed_lstm5_td_dense_input.npy and seed_lstm5_td_dense_expected.npy: inputs[0] and outputs[0]
  of the TF.js reference fixture tests/reference/fixtures/seed_model/seed_lstm5_td_dense.json,
  as float32. The strata-predict CLI test runs the fixture's model.json on the input and compares
  the result with the expected output (computed by tfjs, not by strata).
"""
import json
import pathlib

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
FIXTURE = HERE.parents[1] / "reference" / "fixtures" / "seed_model" / "seed_lstm5_td_dense.json"

TWO_OUTPUTS_MODEL = {
    "modelTopology": {
        "class_name": "Model",
        "config": {
            "name": "two_outputs",
            "layers": [
                {"class_name": "InputLayer", "name": "x", "inbound_nodes": [],
                 "config": {"name": "x", "batch_input_shape": [None, 2, 3], "dtype": "float32", "sparse": False}},
                {"class_name": "Activation", "name": "relu", "inbound_nodes": [[["x", 0, 0, {}]]],
                 "config": {"name": "relu", "trainable": True, "activation": "relu"}},
                {"class_name": "Activation", "name": "tanh", "inbound_nodes": [[["x", 0, 0, {}]]],
                 "config": {"name": "tanh", "trainable": True, "activation": "tanh"}},
            ],
            "input_layers": [["x", 0, 0]],
            "output_layers": [["relu", 0, 0], ["tanh", 0, 0]],
        },
        "keras_version": "tfjs-layers 4.22.0",
        "backend": "tensor_flow.js",
    },
    "weightsManifest": [],
    "format": "layers-model",
    "generatedBy": "tests/io/data/make_npy.py (written by hand, no weights)",
    "convertedBy": None,
}


def main():
    # float32, shape (3, 4): i / 4 - 1 for i = 0..11 (exact in binary).
    np.save(HERE / "numpy_float32.npy", np.arange(12, dtype=np.float32).reshape(3, 4) / np.float32(4) - np.float32(1))
    # float64, shape (3,): 0.1, -2.5, 1e300 (strata's write_npy must reproduce this file byte for byte).
    np.save(HERE / "numpy_float64_rank1.npy", np.array([0.1, -2.5, 1e300], dtype=np.float64))
    # big-endian float64, shape (2, 3, 2): i * 0.5 - 2.
    np.save(HERE / "numpy_float64_be.npy", (np.arange(12, dtype=np.float64).reshape(2, 3, 2) * 0.5 - 2).astype(">f8"))
    # int16, shape (5,).
    np.save(HERE / "numpy_int16.npy", np.array([-300, -1, 0, 1, 300], dtype=np.int16))
    # bool, shape (2, 2).
    np.save(HERE / "numpy_bool.npy", np.array([[True, False], [False, True]]))
    # uint8 in format version 2.0, shape (2, 3): 0, 1, 2, 253, 254, 255.
    with open(HERE / "numpy_uint8_v2.npy", "wb") as f:
        np.lib.format.write_array(f, np.array([[0, 1, 2], [253, 254, 255]], dtype=np.uint8), version=(2, 0))
    # A Fortran-order array, which strata refuses.
    np.save(HERE / "numpy_fortran.npy", np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))

    # A weightless two-output TF.js model for strata-predict's output naming (out.npy, out_2.npy):
    # input x of shape (None, 2, 3) -> Activation("relu") and Activation("tanh"). Its input is
    # also written as CSV (two blocks of two lines); the expected outputs come from numpy.
    model_dir = HERE / "two_outputs"
    model_dir.mkdir(exist_ok=True)
    (model_dir / "model.json").write_text(json.dumps(TWO_OUTPUTS_MODEL, indent=1) + "\n")
    x = np.array([[[-2.0, -0.5, 0.0], [0.25, 1.0, 3.0]], [[-1.5, 0.75, -0.125], [2.5, -3.0, 0.5]]], dtype=np.float32)
    np.save(HERE / "two_outputs_input.npy", x)
    with open(HERE / "two_outputs_input.csv", "w") as f:
        f.write("\n".join("".join(",".join(repr(float(v)) for v in row) + "\n" for row in block) for block in x))
    with open(HERE / "two_outputs_batch1.csv", "w") as f:  # one block: read as (1, 2, 3) for this model
        f.write("".join(",".join(repr(float(v)) for v in row) + "\n" for row in x[0]))
    np.save(HERE / "two_outputs_expected_1.npy", np.maximum(x, 0).astype(np.float32))
    np.save(HERE / "two_outputs_expected_2.npy", np.tanh(x.astype(np.float64)).astype(np.float32))

    fixture = json.loads(FIXTURE.read_text())
    for key, suffix in (("inputs", "input"), ("outputs", "expected")):
        entry = fixture[key][0]
        array = np.array(entry["data"], dtype=np.float32).reshape(entry["shape"])
        np.save(HERE / f"seed_lstm5_td_dense_{suffix}.npy", array)


if __name__ == "__main__":
    main()
