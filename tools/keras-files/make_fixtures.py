#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write Keras model files (.keras, legacy .h5, weights-only .h5 + JSON) for strata::load_model.

No Keras or TensorFlow is needed (or used): this script writes the files itself, following the
layouts that Keras writes, rule by rule (see README.md next to it for the rules and the Keras source
each one follows). The models, layer names, options and weights come from the TF.js reference
fixtures in tests/reference/fixtures, so the expected outputs stored there stay valid for the files
written here (except the one .keras hard_sigmoid case marked "differs", see README.md).

Usage:
    python3 tools/keras-files/make_fixtures.py [--out DIR] [--verify-determinism]

The output directory (default tests/io/fixtures) gets index.json plus keras/, h5/ and h5_weights/,
and bad/: broken files, each a valid file with one thing changed, that strata::load_model must
reject with a given error (index.json "bad"). index.json "custom" lists models that use a user's
custom Keras class (keras/custom_scale.keras): strata loads them only after a C++ implementation
of the class is registered (docs/custom-layers.md), so they are kept out of "cases". Only files
this script owns are removed before writing. Every written file is reopened with h5py/zipfile and
its weights are compared bit for bit with the reference fixture; each broken file's HDF5 objects
or JSON config are compared with its valid base's, which they must differ from in the one
intended place only.
"""

import argparse
import copy
import hashlib
import io
import json
import os
import re
import sys
import tempfile
import zipfile
from pathlib import Path

try:
    import h5py
    import numpy as np
except ImportError:  # e.g. a pyenv python3 first on PATH: retry with Debian's python3 once
    _SYSTEM_PYTHON = "/usr/bin/python3"
    if (
        os.path.exists(_SYSTEM_PYTHON)
        and os.path.realpath(sys.executable) != os.path.realpath(_SYSTEM_PYTHON)
        and not os.environ.get("STRATA_KERAS_FILES_REEXEC")
    ):
        os.environ["STRATA_KERAS_FILES_REEXEC"] = "1"
        os.execv(_SYSTEM_PYTHON, [_SYSTEM_PYTHON, os.path.abspath(__file__), *sys.argv[1:]])
    raise SystemExit("make_fixtures.py needs numpy and h5py (Debian: python3-numpy python3-h5py)")

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
REFERENCE_DIR = REPO / "tests" / "reference" / "fixtures"
TORCH_DIR = REPO / "tests" / "reference" / "fixtures_torch"  # PyTorch GRU(reset_after=True), Keras 3 configs
DEFAULT_OUT = REPO / "tests" / "io" / "fixtures"
GENERATOR = "tools/keras-files/make_fixtures.py"

# What the files claim to have been written by.
KERAS3_VERSION = "3.6.0"
KERAS3_DATE_SAVED = "2024-10-07@12:00:00"  # metadata.json date_saved (fixed: deterministic output)
ZIP_DATE_TIME = (2024, 10, 7, 12, 0, 0)  # zip member timestamps (fixed)
TF_KERAS_VERSION = "2.15.0"  # tf.keras 2.15 (tf_keras), TensorFlow backend
OLD_KERAS_VERSION = "2.2.4"  # standalone Keras 2.2.4, Theano backend: names without ':0'
OLD_KERAS_BACKEND = "theano"

FORMATS = ("keras", "h5", "h5_weights")
OWNED_SUFFIXES = {"keras": (".keras", ".json"), "h5": (".h5",), "h5_weights": (".h5", ".json"),
                  "bad": (".keras", ".h5", ".json")}

# ---------------------------------------------------------------------------------------------
# Case selection. Each entry: (source "<group>/<case>", options). Options:
#   functional: rebuild the TF.js Sequential as a Functional model (same layers, names, weights)
#   expect:     "match" (default) or "differs"
#   old:        (h5 only) write the Keras 2.2.4 / Theano spelling (weight names without ':0')
# ---------------------------------------------------------------------------------------------
KERAS_CASES = [
    ("dense/dense_linear_rank2_bias", {}),
    ("dense/dense_tanh_rank3_nobias", {}),
    ("dense/dense_linear_rank4_bias", {}),
    ("time_distributed_dense/td_dense_rank3_linear_bias", {}),
    ("time_distributed_dense/td_dense_rank4_softmax_bias", {}),
    ("lstm_stacked/stacked2_last", {}),
    ("lstm_td_dense/lstm_backwards_td_dense_relu", {}),
    ("td_lstm/td_lstm_seq", {}),
    ("seed_model/seed_lstm5_td_dense", {}),
    ("seed_model/seed_lstm5_dense", {"functional": True}),
    ("lstm_initial_state/init_state_state_seq_rec_sigmoid", {}),
    ("lstm_stateful/stateful_seq_rec_sigmoid", {}),
    ("dense/dense_hard_sigmoid_rank3_bias", {"expect": "differs"}),
    # Recurrent layers, Bidirectional, masks. "torch:<case>" = tests/reference/fixtures_torch/<case>.json, whose
    # model_config is already a Keras 3 config (GRU reset_after=True).
    ("torch:gru_ra_seq", {}),
    ("torch:gru_ra_init_state_state_backwards_seq", {}),
    ("torch:bidi_gru_ra_concat_seq", {}),
    ("gru/gru_seq_rec_sigmoid", {}),
    ("simple_rnn/simple_rnn_backwards_seq", {}),
    ("bidirectional/bidi_lstm_concat_seq", {}),
    ("masking/masking_lstm_seq", {}),
    ("embedding/emb_mask_lstm_last", {}),
    # Layers written generically (GENERIC): configs from tfjs, weights as tfjs lists them.
    ("shape_layers/dense_flatten_dense_rank3", {}),
    ("shape_layers/td_reshape_activation_dropout_flatten", {}),
    ("repeat_vector/dense_repeat_lstm_td_dense", {}),
    ("shape_layers/dense_elu_dropout_lstm_td_dense", {"functional": True}),
    ("conv/conv2d_stack_flatten_dense", {}),
    ("conv/conv1d_stack_dense", {}),
    ("conv_variants/decoder_transpose_depthwise_separable", {}),
    ("pooling/pad_pool_upsample_crop_gap_dense", {}),
    ("pooling/td_max_pooling2d", {}),
    ("merge/concatenate_lstm_branches_dense", {}),
    ("misc/dense_permute_lstm", {}),
    ("activation_layers/functional_activation_heads", {}),
    ("activation_layers/dense_leaky_relu_lstm", {}),
    # The audio model examples/stream_audio.cpp streams sample by sample.
    ("audio/lstm16_dense_tanh_mono", {}),
    # The seed's video model, loaded by examples/video_classifier.cpp.
    ("video/td_conv2d_pool_flatten_lstm_dense", {}),
    ("normalization/bn_lstm_seq_rank3", {}),
    ("normalization/masking_ln_lstm", {}),
    ("normalization/td_bn_rank3", {}),
    ("torch:normalization/bn_axis1_rank4", {}),
    # Keras' generic RNN: a cell under "cell" (weights at layers/rnn/cell/vars), a stack's cells under
    # cell/cells/<key>. Not the stacks' return_state / initial_state cases: their states are in tfjs' order.
    ("rnn_cells/rnn_stacked_lstm_gru_simple_seq", {}),
    ("rnn_cells/rnn_lstm_cell_return_state", {}),
    ("rnn_cells/rnn_stacked_lstm_lstm_backwards_seq", {"functional": True}),
    ("rnn_cells/masking_rnn_stacked_seq", {}),
    ("conv_lstm/convlstm2d_stack_flatten_dense", {}),
    ("conv_lstm/bidi_convlstm2d_concat_seq", {}),
    ("torch:conv_lstm/convlstm1d_same_seq", {}),
    # Every convolution-family class from a .keras file at least once (the layers tfjs lacks from PyTorch/numpy).
    ("torch:conv/conv1d_causal_dilated4_relu", {}),
    ("torch:conv/conv2d_groups2_same", {}),
    ("torch:conv_variants/depthwise1d_same_dm2_stride2_relu", {}),
    ("torch:conv_variants/separable1d_same_dm2_stride2_relu", {}),
    ("torch:conv_variants/transpose1d_same_k4_s2_op1_relu", {}),
    ("torch:conv_variants/transpose2d_same_op_rect", {}),
    ("torch:conv_lstm/convlstm3d_same_seq", {}),
    ("torch:pooling/global_max_pooling3d_keepdims", {}),
    ("torch:pooling/zero_padding3d_sides", {}),
    ("torch:pooling/up_sampling2d_bilinear", {}),
    ("torch:pooling/average_pooling3d_same_stride_gt_pool", {}),
    ("torch:pooling/spatial_dropout2d", {}),
    ("conv_variants/depthwise2d_same_dm2_stride2_relu", {}),
    ("conv_variants/transpose2d_same_k4_s2", {}),
    # EinsumDense (generic: kernel and bias at its own vars) and MultiHeadAttention (weights in the
    # query_dense/key_dense/value_dense/output_dense sublayers; call kwargs in the node).
    ("torch:attention/ed_left_ellipsis_heads", {}),
    ("torch:attention/ed_right_ellipsis", {}),
    ("torch:attention/mha_causal", {}),
    ("torch:attention/mha_cross_key_value_dim_output_shape", {}),
    ("torch:attention/mha_key_mask", {}),
    ("torch:attention/mha_rank4_default_axes", {}),
    # GroupedQueryAttention: the same sublayer layout (kernels (F, heads, head_dim)), the call's
    # key, attention_mask and flags in the node.
    ("torch:gqa/gqa_cross_key_groups4", {}),
    ("torch:gqa/gqa_attention_mask_causal", {}),
    ("torch:gqa/gqa_query_value_masks", {}),
]

H5_CASES = [
    ("dense/dense_linear_rank2_nobias", {}),
    ("dense/dense_linear_rank3_bias", {}),
    ("dense/dense_sigmoid_rank4_nobias", {}),
    ("time_distributed_dense/td_dense_rank4_tanh_nobias", {}),
    ("lstm_stacked/stacked2_seq", {}),
    ("lstm_td_dense/lstm_td_dense_linear", {"functional": True}),
    ("td_lstm/td_lstm_last_backwards", {}),
    ("seed_model/seed_lstm5_td_dense", {}),
    ("seed_model/seed_lstm5_dense", {}),
    ("lstm/lstm_backwards_state_seq_rec_sigmoid", {}),
    ("lstm_initial_state/init_state_last_rec_hard_sigmoid", {}),
    ("lstm_stateful/stateful_seq_rec_hard_sigmoid", {}),
    ("lstm_stacked/stacked2_mixed_rec_hard_sigmoid", {"old": True}),
    ("time_distributed_dense/td_dense_rank3_hard_sigmoid_bias", {"old": True}),
    ("lstm_initial_state/init_state_seq_rec_sigmoid", {"old": True}),
    ("gru/gru_state_last_rec_sigmoid", {}),
    ("simple_rnn/simple_rnn_state_seq", {}),
    ("bidirectional/bidi_gru_sum_seq", {}),
    ("masking/masking_gru_seq", {}),
    ("embedding/emb_mask_bidi_lstm_seq", {}),
    ("shape_layers/dense_reshape_td_dense", {}),
    ("shape_layers/dense_dropout_dense_activation_relu", {"functional": True}),
    ("repeat_vector/td_repeat_dense_rank3", {}),
    ("conv/conv2d_same_relu", {}),
    ("conv/td_conv2d", {}),
    ("conv_variants/separable2d_same_dm2_stride2", {}),
    ("pooling/max_pooling2d_same_strides", {}),
    ("merge/add_2_dense_rank3", {}),
    ("misc/permute_312_rank4", {}),
    ("activation_layers/dense_prelu_shared_1_dense", {}),
    ("normalization/dense_bn_lstm_dense", {}),
    ("normalization/ln_rank3_last2", {}),
    ("torch:normalization/bn_axis1_rank3", {}),
    ("rnn_cells/rnn_cell_list_gru_lstm_last", {}),
    ("rnn_cells/rnn_simple_rnn_cell_relu_backwards_seq", {"functional": True}),
    ("rnn_cells/masking_rnn_stacked_backwards_last", {}),
    ("conv_lstm/convlstm2d_return_state", {}),
    ("conv_lstm/bidi_convlstm2d_sum_last", {}),
    ("torch:conv/conv3d_groups2_same", {}),
    ("torch:conv/conv1d_causal_strides2", {}),
    ("torch:conv_variants/depthwise1d_valid", {}),
    ("torch:conv_variants/separable1d_valid", {}),
    ("torch:conv_variants/transpose1d_same_s2", {}),
    ("torch:conv_variants/transpose2d_valid_op1_s2", {}),
    ("torch:conv_lstm/convlstm3d_valid_strides2", {}),
    ("torch:pooling/cropping3d_sides", {}),
    ("torch:pooling/up_sampling3d", {}),
    ("torch:pooling/up_sampling1d", {}),
    ("torch:pooling/global_average_pooling3d", {}),
    ("torch:pooling/max_pooling3d_same_stride_gt_pool", {}),
    ("torch:pooling/spatial_dropout3d_channels_first", {}),
    ("conv_variants/depthwise2d_valid", {}),
    ("conv_variants/transpose2d_same_rect_kernel_strides", {}),
]

H5_WEIGHTS_CASES = [
    ("dense/dense_softmax_rank2_nobias", {}),
    ("dense/dense_softsign_rank3_bias", {}),
    ("dense/dense_linear_rank4_bias", {}),
    ("dense_td_pair/pair_rank3_tanh_td", {}),
    ("dense_td_pair/pair_rank4_linear_td", {}),
    ("lstm_stacked/stacked3_seq_mixed", {"functional": True}),
    ("td_lstm/td_lstm_last", {}),
    ("seed_model/seed_lstm5_td_dense", {}),
    ("seed_model/seed_lstm5_dense", {}),
    ("lstm/lstm_state_last_rec_sigmoid", {}),
    ("lstm_initial_state/init_state_backwards_seq_rec_sigmoid", {}),
    ("lstm_stateful/stateful_last_rec_sigmoid", {}),
    ("rnn_cells/rnn_gru_cell_last", {}),
]


# Keras 1.2.2 files (KERAS1_VERSION), each from a reference fixture whose layers Keras 1 has (RNNs with a bias,
# no return_state or initial state, GRU reset_after=false). Options: format "h5" (save_model) or "h5_weights"
# (save_weights + to_json); backend "theano" or "tensorflow" (weight names without / with ':0');
# consume_less "gpu" (LSTM/GRU weights as W, U, b; default "cpu": per gate); functional.
KERAS1_CASES = [
    ("dense/dense_linear_rank2_bias", {"backend": "theano"}),
    ("dense/dense_tanh_rank3_nobias", {"backend": "tensorflow", "functional": True}),
    ("lstm_stacked/stacked2_mixed_rec_hard_sigmoid", {"backend": "theano"}),
    ("lstm/lstm_backwards_seq_rec_sigmoid", {"backend": "tensorflow", "functional": True}),
    ("lstm/lstm_seq_rec_hard_sigmoid", {"backend": "tensorflow", "consume_less": "gpu"}),
    ("gru/gru_seq_rec_sigmoid", {"backend": "theano"}),
    ("gru/gru_backwards_last_rec_sigmoid", {"backend": "tensorflow", "functional": True}),
    ("gru/gru_last_rec_hard_sigmoid", {"backend": "theano", "consume_less": "gpu"}),
    ("simple_rnn/simple_rnn_backwards_seq", {"backend": "theano"}),
    ("simple_rnn/simple_rnn_seq", {"backend": "tensorflow", "functional": True}),
    ("embedding/emb_mask_lstm_last", {"backend": "tensorflow"}),
    ("embedding/emb_nomask_flatten_dense", {"backend": "theano", "functional": True}),
    ("time_distributed_dense/td_dense_rank3_linear_bias", {"backend": "theano"}),
    ("time_distributed_dense/td_dense_rank4_tanh_nobias", {"backend": "tensorflow", "functional": True}),
    ("td_lstm/td_lstm_seq", {"backend": "theano"}),
    ("bidirectional/bidi_lstm_concat_seq", {"backend": "tensorflow"}),
    ("masking/masking_gru_seq", {"backend": "theano"}),
    ("lstm_stateful/stateful_seq_rec_hard_sigmoid", {"backend": "theano"}),
    ("shape_layers/td_reshape_activation_dropout_flatten", {"backend": "tensorflow"}),
    ("repeat_vector/dense_repeat_lstm_td_dense", {"backend": "theano", "functional": True}),
    ("seed_model/seed_lstm5_td_dense", {"backend": "theano", "format": "h5_weights"}),
    ("gru/gru_seq_rec_sigmoid", {"backend": "tensorflow", "format": "h5_weights", "functional": True}),
    # Convolutions (Keras 1's Convolution1D kernel (filter_length, 1, input_dim, nb_filter); a Theano file's
    # kernels flipped on the spatial axes), pooling, padding, upsampling, BatchNormalization (running_std holds
    # the variance), the advanced activations and the merge modes (functional merge, and a Sequential starting
    # with a Merge of branch models).
    ("conv/conv1d_dilated_same", {"backend": "tensorflow"}),
    ("conv/conv1d_valid_strides2", {"backend": "theano"}),
    ("conv/conv1d_stack_dense", {"backend": "theano", "functional": True}),
    ("conv/conv2d_same_relu", {"backend": "tensorflow"}),
    ("conv/conv2d_valid_strides_3_2", {"backend": "theano"}),
    ("conv/conv2d_dilated_valid", {"backend": "theano"}),
    ("conv/conv2d_same_k4_even", {"backend": "tensorflow"}),
    ("conv/conv2d_stack_flatten_dense", {"backend": "tensorflow", "format": "h5_weights"}),
    ("conv/conv3d_valid", {"backend": "theano"}),
    ("conv/conv3d_same_k_1_2_3_relu", {"backend": "tensorflow", "functional": True}),
    ("pooling/max_pooling1d_same_strides", {"backend": "tensorflow"}),
    ("pooling/average_pooling1d_valid_strides", {"backend": "theano"}),
    ("pooling/max_pooling2d_channels_first", {"backend": "theano"}),
    ("pooling/global_max_pooling2d_channels_first", {"backend": "tensorflow"}),
    ("pooling/zero_padding2d_sides", {"backend": "tensorflow"}),
    ("pooling/cropping2d_sides", {"backend": "theano"}),
    ("pooling/pad_pool_upsample_crop_gap_dense", {"backend": "tensorflow", "functional": True}),
    ("normalization/bn_rank4_last", {"backend": "theano"}),
    ("normalization/dense_bn_lstm_dense", {"backend": "tensorflow"}),
    ("activation_layers/dense_prelu_shared_1_dense", {"backend": "theano"}),
    ("activation_layers/leaky_relu_alpha_rank4", {"backend": "tensorflow"}),
    ("activation_layers/elu_default_rank3", {"backend": "theano"}),
    ("activation_layers/thresholded_relu_theta_rank3", {"backend": "tensorflow"}),
    ("merge/add_2_dense_rank3", {"backend": "tensorflow"}),
    ("merge/multiply_2_dense_rank3", {"backend": "theano"}),
    ("merge/average_3_dense_rank3", {"backend": "tensorflow"}),
    ("merge/maximum_2_dense_rank3", {"backend": "theano"}),
    ("merge/concatenate_axis1_rank3", {"backend": "tensorflow"}),
    ("merge/dot_rank3_axes_2_2", {"backend": "theano"}),
    ("merge/concatenate_lstm_branches_dense", {"backend": "tensorflow", "sequential_merge": True}),
    ("merge/dot_attention_dense", {"backend": "theano", "sequential_merge": True}),
    # ConvLSTM2D (per-gate W_i, U_i, b_i, ... as convolution kernels; Theano: both kernels flipped, odd kernels
    # only), Deconvolution2D (kernel (rows, cols, input channels, nb_filter), output_shape given; TensorFlow
    # only: strata refuses a Theano file's transposed convolution) and SeparableConvolution2D (TensorFlow only,
    # as in Keras 1).
    ("conv_lstm/convlstm2d_same_seq", {"backend": "tensorflow"}),
    ("conv_lstm/convlstm2d_hard_sigmoid", {"backend": "theano"}),
    ("conv_lstm/convlstm2d_valid_strides_2_1_k2x3", {"backend": "tensorflow", "functional": True}),
    ("conv_lstm/convlstm2d_go_backwards_seq", {"backend": "tensorflow", "format": "h5_weights"}),
    ("conv_lstm/convlstm2d_stack_flatten_dense", {"backend": "tensorflow"}),
    ("conv_variants/transpose2d_same_s2", {"backend": "tensorflow"}),
    ("conv_variants/transpose2d_same_s3_k2", {"backend": "tensorflow"}),
    ("conv_variants/transpose2d_same_k4_s2", {"backend": "tensorflow", "functional": True}),
    ("conv_variants/transpose2d_valid_s2_k3_relu", {"backend": "tensorflow"}),
    ("conv_variants/transpose2d_valid_s3_k2_nobias", {"backend": "tensorflow"}),
    ("conv_variants/separable2d_same_dm2_stride2", {"backend": "tensorflow"}),
    ("conv_variants/separable2d_dm3_rect_valid_sigmoid", {"backend": "tensorflow", "functional": True}),
    ("conv_variants/separable2d_valid", {"backend": "tensorflow"}),
]


class FixtureError(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise FixtureError(msg)


# ---------------------------------------------------------------------------------------------
# A neutral model read from a TF.js reference fixture
# ---------------------------------------------------------------------------------------------
class Layer:
    """One layer: class name, options, weights (get_weights() order) and, for Functional models,
    the inbound tensors [(layer_name, node_index, tensor_index), ...]."""

    def __init__(self, name, cls):
        self.name = name
        self.cls = cls  # "InputLayer" | "Dense" | "LSTM" | "GRU" | "SimpleRNN" | "TimeDistributed" | ...
        self.opts = {}
        self.inner = None  # the wrapped layer of a TimeDistributed, the forward layer of a Bidirectional
        self.backward = None  # the backward layer of a Bidirectional
        self.weights = []  # [(short_name, float32 ndarray)]
        self.inbound = []
        self.batch_shape = None  # InputLayer batch shape, or the first Sequential layer's
        self.in_shapes = None  # shapes of the inbound tensors (filled by infer_shapes)
        self.recorded_out = None  # a generic layer's output shapes as tfjs recorded them (batch null)
        self.out_shapes = None
        self.weight_owners = []  # per weight, the tfjs name's segments between the layer and the variable
        self.k3_kwargs = None  # a Keras 3 source node's call kwargs beyond initial_state/training/mask (MHA)


class Model:
    def __init__(self, kind, name):
        self.kind = kind  # "Sequential" | "Functional"
        self.name = name
        self.layers = []  # Functional: includes the InputLayers; Sequential: never
        self.outputs = []  # Functional: [(layer_name, 0, tensor_index)]

    def layer(self, name):
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise FixtureError(f"no layer {name!r} in {self.name}")

    def input_layers(self):
        return [layer for layer in self.layers if layer.cls == "InputLayer"]

    def weight_layers(self):
        return [layer for layer in self.layers if layer.cls != "InputLayer"]


def _shape(s):
    return [None if d is None else int(d) for d in s]


# Classes written by the rules below; every other class is written generically (GENERIC): its tfjs
# config as is (tfjs writes Keras' snake_case keys), minus the keys every layer has, with
# initializers re-spelt per format and Keras 3's renames (K3_RENAMES); its weights named and
# ordered as the tfjs fixture lists them, kept at the layer's own vars; its output shapes as tfjs
# recorded them. A new layer family then needs no code here, only case lines (and a rename where
# tfjs spells a key differently from Keras 3).
SPECIAL_CLASSES = ("InputLayer", "Dense", "LSTM", "GRU", "SimpleRNN", "TimeDistributed", "Bidirectional", "Masking",
                   "Embedding", "Scale")
GENERIC_DROPPED_KEYS = ("name", "trainable", "dtype", "batch_input_shape", "batch_size", "input_dtype")
# tfjs config key -> Keras 3 config key, per class (Keras 3 renamed a few arguments).
K3_RENAMES = {"LeakyReLU": {"alpha": "negative_slope"}}
# Keras 3 Layer.__call__ records these call kwargs in an inbound node (a call() with a training
# argument whose default is not None, or a mask argument and one tensor argument).
K3_CALL_KWARGS = {
    "Dropout": {"training": False}, "SpatialDropout1D": {"training": False}, "GaussianNoise": {"training": False},
    "GaussianDropout": {"training": False}, "RNN": {"training": False, "mask": None},
}


def _k3_reshape(cfg):
    # tfjs writes Reshape's inferred dimension as null; Keras (3 and tf.keras) write -1.
    if "target_shape" in cfg:
        cfg["target_shape"] = [-1 if d is None else d for d in cfg["target_shape"]]
    return cfg


def _rnn_own_keys(cfg):
    # tfjs' RNN.getConfig() adds its cell's config keys (and a stack's "cells") beside "cell"; Keras'
    # RNN.get_config() has its own keys and "cell" only (RNN.from_config passes the rest to __init__).
    cell_keys = set(cfg["cell"]["config"]) - {"name", "trainable", "dtype"} if _nested_layer(cfg.get("cell")) else set()
    return {k: v for k, v in cfg.items() if k not in cell_keys and k != "cells"}


# Per-class fix-ups of the generic config after renaming: (config, flavour) -> config.
GENERIC_FIXUPS = {"Reshape": lambda cfg, flavour: _k3_reshape(cfg), "RNN": lambda cfg, flavour: _rnn_own_keys(cfg)}


def _nested_layer(value):
    """A layer config nested in another's ({"class_name", "config"}): an RNN's cell, a stack's cells."""
    return isinstance(value, dict) and isinstance(value.get("class_name"), str) and isinstance(value.get("config"), dict)


def _nested_layers(value):
    """The layer configs a config value holds: one, a list of them, or none."""
    if _nested_layer(value):
        return [value]
    if isinstance(value, list) and value and all(_nested_layer(v) for v in value):
        return list(value)
    return []


def is_generic(cls):
    return cls not in SPECIAL_CLASSES + NORM_CLASSES


def _generic_opts(cfg):
    return {k: v for k, v in cfg.items() if k not in GENERIC_DROPPED_KEYS}


def _generic_config(layer, flavour):
    """The generic layer's config keys for a format: flavour "k3", "tf" or "old"."""
    return _convert_config(layer.cls, layer.opts, flavour)


def _convert_config(cls, opts, flavour):
    """A config's keys re-spelt for a format; nested layer configs (a cell, a list of cells) likewise,
    serialized as the format serializes a layer (Keras 3: module, class_name, config, registered_name)."""
    init = {"k3": k3_initializer, "tf": tf_initializer}.get(flavour, old_initializer)
    out = {}
    for key, value in opts.items():
        nested = _nested_layers(value)
        if key.endswith("_initializer") and isinstance(value, dict) and "class_name" in value:
            value = init(value["class_name"])
        elif key in ("activation", "recurrent_activation") and flavour == "k3":
            value = k3_activation(value)
        elif nested:
            converted = [_serialize_nested(n, flavour) for n in nested]
            value = converted if isinstance(value, list) else converted[0]
        if flavour == "k3":
            key = K3_RENAMES.get(cls, {}).get(key, key)
        out[key] = value
    fixup = GENERIC_FIXUPS.get(cls)
    return fixup(out, flavour) if fixup else out


def _serialize_nested(entry, flavour):
    cfg = _convert_config(entry["class_name"], entry["config"], flavour)
    if flavour == "k3":
        return {"module": "keras.layers", "class_name": entry["class_name"], "config": cfg, "registered_name": None}
    return {"class_name": entry["class_name"], "config": cfg}


def nested_weight_holders(cfg, prefix=""):
    """[(path, name)] of the layers nested in a config that hold its weights, in weight order, where
    Keras 3 saves them (saving_lib._save_state): a layer under key k at "k", a list of them at
    "k/<snake_case(class)>[_n]" (_save_container_state); a nested layer with nested layers of its
    own (StackedRNNCells) holds none itself. Empty: the layer holds its weights itself."""
    holders = []
    for key, value in cfg.items():
        # Not layers: a dtype policy, initializers, regularizers, constraints.
        if key == "dtype" or key.endswith(("_initializer", "_regularizer", "_constraint")):
            continue
        nested = _nested_layers(value)
        if not nested:
            continue
        if isinstance(value, list):
            paths = [f"{prefix}{key}/{k}" for k in k3_container_keys([n["class_name"] for n in nested])]
        else:
            paths = [f"{prefix}{key}"]
        for path, n in zip(paths, nested):
            inner = nested_weight_holders(n["config"], path + "/")
            holders += inner or [(path, n["config"].get("name", snake_case(n["class_name"])))]
    return holders


def nested_weight_parts(layer, holders):
    """A generic layer's weights split among its nested holders: tfjs names a nested layer's weights
    "<layer>/<owner>/<var>" (one owner per cell of a stack, none for a single cell), in holder order."""
    parts = []
    previous = object()
    for owner, (short, arr) in zip(layer.weight_owners, layer.weights):
        if owner != previous:
            parts.append([])
            previous = owner
        parts[-1].append((short, arr))
    check(len(parts) == len(holders), f"{layer.name}: {len(parts)} weight owners for {len(holders)} nested layers")
    return parts


def _opts_from_tfjs(cls, cfg):
    if is_generic(cls):
        return _generic_opts(cfg)
    if cls == "Dense":
        return {"units": int(cfg["units"]), "activation": cfg["activation"], "use_bias": bool(cfg["use_bias"])}
    if cls in RNN_CLASSES:
        for key in ("dropout", "recurrent_dropout"):
            check(not cfg.get(key), f"{cls} {cfg['name']}: {key} != 0 is not supported here")
        check(not cfg.get("unroll"), f"{cls} {cfg['name']}: unroll is not supported here")
        opts = {"units": int(cfg["units"]), "activation": cfg["activation"]}
        if cls != "SimpleRNN":
            opts["recurrent_activation"] = cfg["recurrent_activation"]
        opts.update({
            "use_bias": bool(cfg["use_bias"]),
            "return_sequences": bool(cfg["return_sequences"]),
            "return_state": bool(cfg["return_state"]),
            "go_backwards": bool(cfg["go_backwards"]),
            "stateful": bool(cfg["stateful"]),
        })
        if cls == "GRU":  # tfjs always writes false; the torch fixtures (Keras 3) true
            opts["reset_after"] = bool(cfg["reset_after"])
        return opts
    if cls == "Masking":
        return {"mask_value": cfg["mask_value"]}
    if cls == "Embedding":
        return {"input_dim": int(cfg["input_dim"]), "output_dim": int(cfg["output_dim"]),
                "mask_zero": bool(cfg["mask_zero"])}
    if cls in NORM_CLASSES:  # BatchNormalization, LayerNormalization: the options inference uses
        return {"axis": cfg["axis"], "epsilon": cfg["epsilon"], "center": bool(cfg["center"]),
                "scale": bool(cfg["scale"])}
    raise FixtureError(f"unsupported layer class {cls}")


RNN_CLASSES = ("LSTM", "GRU", "SimpleRNN")
NORM_CLASSES = ("BatchNormalization", "LayerNormalization")
CELL_NAMES = {"LSTM": "lstm_cell", "GRU": "gru_cell", "SimpleRNN": "simple_rnn_cell"}
# Generic classes whose weights Keras keeps in a cell, as the RNN classes' (ConvLSTM's "conv_lstm_cell").
CELL_NAMES.update({f"ConvLSTM{n}D": "conv_lstm_cell" for n in (1, 2, 3)})


def _strip(name, prefix):
    return name[len(prefix):] if name.startswith(prefix) else name


def _layer_from_tfjs(entry):
    cls = entry["class_name"]
    cfg = entry["config"]
    if cls == "TimeDistributed":
        layer = Layer(cfg["name"], cls)
        inner_entry = cfg["layer"]
        layer.inner = Layer(inner_entry["config"]["name"], inner_entry["class_name"])
        layer.inner.opts = _opts_from_tfjs(inner_entry["class_name"], inner_entry["config"])
    elif cls == "Bidirectional":
        # tfjs: "layer" is the user's layer (name "lstm"), no backward_layer; Keras 3: "layer" is the forward layer
        # ("forward_lstm") and "backward_layer" the backward one. Either way: forward_<base>, backward_<base>.
        layer = Layer(cfg["name"], cls)
        inner_entry = cfg["layer"]
        base = _strip(inner_entry["config"]["name"], "forward_")
        layer.inner = Layer("forward_" + base, inner_entry["class_name"])
        layer.inner.opts = _opts_from_tfjs(inner_entry["class_name"], inner_entry["config"])
        layer.backward = Layer("backward_" + base, inner_entry["class_name"])
        if cfg.get("backward_layer"):
            back = cfg["backward_layer"]
            check(back["class_name"] == inner_entry["class_name"], f"{cfg['name']}: backward_layer class")
            check(back["config"]["name"] == "backward_" + base, f"{cfg['name']}: backward_layer name")
            layer.backward.opts = _opts_from_tfjs(back["class_name"], back["config"])
        else:
            layer.backward.opts = dict(layer.inner.opts, go_backwards=not layer.inner.opts["go_backwards"])
        check(layer.backward.opts["go_backwards"] != layer.inner.opts["go_backwards"], f"{cfg['name']}: go_backwards")
        layer.opts = {"merge_mode": cfg.get("merge_mode", "concat")}
    elif cls == "InputLayer":
        layer = Layer(cfg["name"], cls)
        layer.batch_shape = _shape(cfg.get("batch_input_shape", cfg.get("batch_shape")))
    else:
        layer = Layer(cfg["name"], cls)
        layer.opts = _opts_from_tfjs(cls, cfg)
    if cls != "InputLayer" and "batch_input_shape" in cfg:
        layer.batch_shape = _shape(cfg["batch_input_shape"])
    return layer


WEIGHT_ORDER = {"Dense": ["kernel", "bias"], "LSTM": ["kernel", "recurrent_kernel", "bias"],
                "GRU": ["kernel", "recurrent_kernel", "bias"], "SimpleRNN": ["kernel", "recurrent_kernel", "bias"],
                "Embedding": ["embeddings"], "Masking": []}


def _weight_order(core):
    """The get_weights() names of a (wrapped) layer given its options."""
    if core.cls in NORM_CLASSES:
        names = (["gamma"] if core.opts["scale"] else []) + (["beta"] if core.opts["center"] else [])
        return names + (["moving_mean", "moving_variance"] if core.cls == "BatchNormalization" else [])
    return [n for n in WEIGHT_ORDER[core.cls] if n != "bias" or core.opts["use_bias"]]


def _float32_array(w):
    # The reference JSON holds float32 values in their shortest decimal form (Math.fround'ed in the
    # generator), so rounding the parsed double to float32 gives back the exact tfjs weight.
    data = np.asarray(w["data"], dtype=np.float64)
    arr = data.astype(np.float32)
    check(np.allclose(arr, data, rtol=1e-7, atol=0), f"weight {w['name']} is not a float32 value")
    check(arr.size == int(np.prod(w["shape"])), f"weight {w['name']}: size does not match its shape")
    return arr.reshape(w["shape"])


# Call kwargs a Keras 3 MultiHeadAttention or GroupedQueryAttention node may carry: tensors (key,
# attention_mask) and flags.
MHA_CALL_KWARGS = {"key", "attention_mask", "use_causal_mask", "return_attention_scores"}
# The attention classes called as layer(query, value[, key], key=..., attention_mask=..., flags).
ATTENTION_CLASSES = ("MultiHeadAttention", "GroupedQueryAttention")


def _is_k3_tensor(v):
    return isinstance(v, dict) and v.get("class_name") == "__keras_tensor__"


def _k3_refs(node, cls=None):
    """Keras 3 inbound node {"args": [...], "kwargs": {"initial_state": [...]}} -> [(layer, node, index)]:
    the positional tensors, then the tensor kwargs (initial_state; MultiHeadAttention's key and
    attention_mask in key order, as strata's loader takes them)."""
    kwargs = node.get("kwargs", {})
    allowed = {"initial_state", "training", "mask"} | (MHA_CALL_KWARGS if cls in ATTENTION_CLASSES else set())
    check(set(kwargs) <= allowed, "unexpected call kwargs")
    tensors = list(node["args"]) + list(kwargs.get("initial_state", []))
    tensors += [kwargs[k] for k in sorted(kwargs) if k != "initial_state" and _is_k3_tensor(kwargs[k])]
    return [tuple(t["config"]["keras_history"]) for t in tensors]


def load_source(source):
    """Reads tests/reference/fixtures/<source>.json (or fixtures_torch/<case>.json for "torch:<case>") into
    (Model, fixture dict)."""
    if source.startswith("torch:"):
        path = TORCH_DIR / f"{source[6:]}.json"
    else:
        path = REFERENCE_DIR / f"{source}.json"
    fixture = json.loads(path.read_text())
    mc = fixture["model_config"]
    cfg = mc["config"]
    model = Model("Sequential" if mc["class_name"] == "Sequential" else "Functional", cfg["name"])
    entries = list(cfg["layers"])
    if model.kind == "Sequential" and entries[0]["class_name"] == "InputLayer":  # Keras 3: explicit InputLayer
        first = dict(entries[1], config=dict(entries[1]["config"], batch_input_shape=entries[0]["config"]["batch_shape"]))
        entries = [first] + entries[2:]
    for entry in entries:
        layer = _layer_from_tfjs(entry)
        if model.kind == "Functional":
            nodes = entry.get("inbound_nodes", [])
            check(len(nodes) <= 1, f"{source}: shared layers are not supported")
            if nodes and isinstance(nodes[0], dict):
                layer.inbound = [(n, int(i), int(t)) for n, i, t in _k3_refs(nodes[0], entry["class_name"])]
                if entry["class_name"] in ATTENTION_CLASSES:
                    layer.k3_kwargs = {"n_args": len(nodes[0]["args"]), "kwargs": nodes[0].get("kwargs", {})}
            elif nodes:
                layer.inbound = [(t[0], int(t[1]), int(t[2])) for t in nodes[0]]
                check(all(t[3] == {} for t in nodes[0]), f"{source}: call kwargs are not supported")
        model.layers.append(layer)
    if model.kind == "Functional":
        check([[n, i, t] for n, i, t in ((x.name, 0, 0) for x in model.input_layers())] == cfg["input_layers"],
              f"{source}: input_layers must list the InputLayers in layer order")
        model.outputs = [(o[0], int(o[1]), int(o[2])) for o in cfg["output_layers"]]
    else:
        check(model.layers[0].batch_shape is not None, f"{source}: first layer has no batch_input_shape")

    by_name = {entry["name"]: entry for entry in fixture["layers"]}
    for layer in model.weight_layers():
        entry = by_name[layer.name]
        check(entry["class_name"] == layer.cls, f"{source}: class mismatch for {layer.name}")
        core = layer.inner if layer.cls in ("TimeDistributed", "Bidirectional") else layer
        layer.recorded_out = entry.get("output_shapes")
        if layer.recorded_out is None and len(model.layers) == 1 and model.kind == "Sequential":
            # The numpy/PyTorch single-layer fixtures record no shapes: the layer's output is the model's.
            layer.recorded_out = [[None] + list(o["shape"][1:]) for o in fixture["outputs"]]
        if is_generic(core.cls):
            expected = [w["name"].split("/")[-1].split(":")[0] for w in entry["weights"]]
            if layer.cls == "Bidirectional":
                expected = expected[:len(expected) // 2]  # one layer's names (doubled below)
        else:
            expected = _weight_order(core)
        if layer.cls == "Bidirectional":
            expected = expected * 2  # the forward layer's, then the backward layer's
            halves = [f"{layer.name}/{sub.name}/" for sub in (layer.inner, layer.backward)]
            prefixes = [halves[0]] * (len(expected) // 2) + [halves[1]] * (len(expected) // 2)
            check(all(w["name"].startswith(p) for w, p in zip(entry["weights"], prefixes)),
                  f"{source}: {layer.name} weights are not forward then backward")
        got = [w["name"].split("/")[-1] for w in entry["weights"]]
        check(got == expected, f"{source}: {layer.name} weights {got}, expected {expected}")
        layer.weights = [(n, _float32_array(w)) for n, w in zip(expected, entry["weights"])]
        layer.weight_owners = ["/".join(w["name"].split("/")[1:-1]) for w in entry["weights"]]
    infer_shapes(model)
    return model, fixture


def to_functional(model, input_name):
    """The same Sequential stack as a Functional model: an InputLayer, then each layer called on the
    previous output. Names, options and weights are unchanged."""
    check(model.kind == "Sequential", "to_functional needs a Sequential model")
    fn = Model("Functional", model.name)
    first = copy.deepcopy(model.layers[0])
    inp = Layer(input_name, "InputLayer")
    inp.batch_shape = first.batch_shape
    fn.layers.append(inp)
    prev = input_name
    for layer in model.layers:
        layer = copy.deepcopy(layer)
        layer.batch_shape = None
        layer.inbound = [(prev, 0, 0)]
        fn.layers.append(layer)
        prev = layer.name
    fn.outputs = [(prev, 0, 0)]
    infer_shapes(fn)
    return fn


def _out_shapes(layer, in_shapes):
    if layer.cls == "Dense":
        s = in_shapes[0]
        return [s[:-1] + [layer.opts["units"]]]
    if layer.cls in RNN_CLASSES:
        s = in_shapes[0]
        check(len(s) == 3, f"{layer.cls} {layer.name} needs a rank-3 input, got {s}")
        u = layer.opts["units"]
        out = [s[0], s[1], u] if layer.opts["return_sequences"] else [s[0], u]
        states = 2 if layer.cls == "LSTM" else 1
        return [out] + [[s[0], u]] * states if layer.opts["return_state"] else [out]
    if layer.cls == "Bidirectional":
        for sub in (layer.inner, layer.backward):
            if is_generic(sub.cls) and sub.recorded_out is None and layer.recorded_out is not None:
                # A generic wrapped layer (ConvLSTM2D): its output is the merged one, halved back by concat.
                check(len(layer.recorded_out) == 1, f"Bidirectional {layer.name}: one recorded output expected")
                main = list(layer.recorded_out[0])
                if layer.opts["merge_mode"] == "concat":
                    main[-1] //= 2
                sub.recorded_out = [main]
            sub.in_shapes = in_shapes[:1]
            sub.out_shapes = _out_shapes(sub, in_shapes[:1])
        outs = layer.inner.out_shapes
        main = copy.deepcopy(outs[0])
        if layer.opts["merge_mode"] is None:
            mains = [main, copy.deepcopy(main)]
        else:
            if layer.opts["merge_mode"] == "concat":
                main[-1] *= 2
            mains = [main]
        return mains + outs[1:] * 2
    if layer.cls in ("Masking", "Scale") + NORM_CLASSES:
        return [list(in_shapes[0])]
    if layer.cls == "Embedding":
        return [list(in_shapes[0]) + [layer.opts["output_dim"]]]
    if is_generic(layer.cls):
        check(layer.recorded_out is not None, f"{layer.cls} {layer.name}: no recorded output shape")
        batch = in_shapes[0][0] if in_shapes else None
        return [[batch] + list(shape[1:]) for shape in layer.recorded_out]
    if layer.cls == "TimeDistributed":
        s = in_shapes[0]
        check(len(s) >= 3, f"TimeDistributed {layer.name} needs rank >= 3, got {s}")
        child = [s[0]] + s[2:]
        if is_generic(layer.inner.cls) and layer.recorded_out is not None:
            layer.inner.recorded_out = [[None] + list(layer.recorded_out[0][2:])]
        inner_out = _out_shapes(layer.inner, [child])
        check(len(inner_out) == 1, "TimeDistributed over a multi-output layer is not supported")
        layer.inner.in_shapes = [child]
        layer.inner.out_shapes = inner_out
        c = inner_out[0]
        return [[c[0], s[1]] + c[1:]]
    raise FixtureError(f"no shape rule for {layer.cls}")


def infer_shapes(model):
    if model.kind == "Sequential":
        shape = model.layers[0].batch_shape
        for layer in model.layers:
            layer.in_shapes = [shape]
            layer.out_shapes = _out_shapes(layer, layer.in_shapes)
            check(len(layer.out_shapes) == 1, f"{layer.name}: multi-output layer inside a Sequential")
            shape = layer.out_shapes[0]
        return
    shapes = {}
    for layer in model.layers:
        if layer.cls == "InputLayer":
            layer.out_shapes = [layer.batch_shape]
        else:
            layer.in_shapes = [shapes[(n, i)][t] for n, i, t in layer.inbound]
            layer.out_shapes = _out_shapes(layer, layer.in_shapes)
        shapes[(layer.name, 0)] = layer.out_shapes


def has_hard_sigmoid(model):
    for layer in model.weight_layers():
        core = layer.inner if layer.cls in ("TimeDistributed", "Bidirectional") else layer
        if "hard_sigmoid" in (core.opts.get("activation"), core.opts.get("recurrent_activation")):
            return True
    return False


def describe(model):
    def nested(cls, cfg):  # a generic layer's options; nested layers (cells) the same way
        def text(v):
            layers = _nested_layers(v)
            if not layers:
                return str(v)
            inner = [nested(n["class_name"], {k: x for k, x in n["config"].items() if k not in ("name", "trainable")})
                     for n in layers]
            return f"[{', '.join(inner)}]" if isinstance(v, list) else inner[0]
        skip = ("_initializer", "_regularizer", "_constraint")
        return f"{cls}({', '.join(f'{k}={text(v)}' for k, v in cfg.items() if not k.endswith(skip) and k not in ('name', 'trainable', 'dtype'))})"

    def one(layer):
        if layer.cls == "TimeDistributed":
            return f"TimeDistributed({one(layer.inner)})"
        o = layer.opts
        if layer.cls == "Bidirectional":
            return f"Bidirectional({one(layer.inner)}, merge_mode={o['merge_mode']})"
        if layer.cls == "Masking":
            return f"Masking({o['mask_value']})"
        if layer.cls == "Embedding":
            return f"Embedding({o['input_dim']}, {o['output_dim']}{', mask_zero' if o['mask_zero'] else ''})"
        if is_generic(layer.cls):
            holds_layers = any(_nested_layers(v) for v in o.values())  # an RNN: its own keys and the cell
            return nested(layer.cls, _generic_config(layer, "k3") if holds_layers else o)
        if layer.cls in NORM_CLASSES:
            flags = "".join(f", {k}=false" for k in ("center", "scale") if not o[k])
            return f"{layer.cls}(axis={o['axis']}, epsilon={o['epsilon']}{flags})"
        bits = [str(o["units"]), o["activation"]]
        if layer.cls in RNN_CLASSES:
            if "recurrent_activation" in o:
                bits.append("rec=" + o["recurrent_activation"])
            for flag in ("return_sequences", "return_state", "go_backwards", "stateful", "reset_after"):
                if o.get(flag):
                    bits.append(flag)
        if not o["use_bias"]:
            bits.append("no bias")
        return f"{layer.cls}({', '.join(bits)})"

    layers = [one(layer) for layer in model.weight_layers()]
    inputs = (
        [f"{x.name}{x.batch_shape}" for x in model.input_layers()]
        if model.kind == "Functional"
        else [str(model.layers[0].batch_shape)]
    )
    text = f"{model.kind} " + " -> ".join(layers) + " on " + ", ".join(inputs)
    return text.replace("None", "null")


# ---------------------------------------------------------------------------------------------
# HDF5 helpers: no object timestamps, explicit groups (also the intermediate ones)
# ---------------------------------------------------------------------------------------------
def _gcpl():
    plist = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    plist.set_obj_track_times(False)
    return plist


def h5_group(parent, path):
    group = parent
    for part in [p for p in path.split("/") if p]:
        if part in group:
            group = group[part]
        else:
            group = h5py.Group(h5py.h5g.create(group.id, part.encode("utf8"), gcpl=_gcpl()))
    return group


def h5_dataset(parent, path, value):
    head, _, leaf = path.rpartition("/")
    group = h5_group(parent, head) if head else parent
    return group.create_dataset(leaf, data=value, track_times=False)


def h5_bytes_list_attr(group, name, items, fixed_length=False):
    """Keras' save_attributes_to_hdf5_group with one chunk: `group.attrs[name] = data`, data a list
    of byte strings. h5py 3 (tf.keras 2.15) stores such a list as variable-length ASCII strings;
    h5py 2 (the Keras 2.2.4 era) let numpy turn it into a fixed-length |S array. An empty list
    becomes an empty float64 array either way (np.asarray([]))."""
    items = list(items)
    if fixed_length and items:
        group.attrs[name] = np.asarray(items)  # dtype |S<longest>
    else:
        group.attrs[name] = items


def h5_attr_kind(obj, name):
    """("vlen" | "fixed" | "other", character set) of an attribute's HDF5 datatype."""
    tid = obj.attrs.get_id(name).get_type()
    if not isinstance(tid, h5py.h5t.TypeStringID):
        return ("other", None)
    cset = "utf8" if tid.get_cset() == h5py.h5t.CSET_UTF8 else "ascii"
    return ("vlen" if tid.is_variable_str() else "fixed", cset)


# ---------------------------------------------------------------------------------------------
# Keras 3 (.keras)
# ---------------------------------------------------------------------------------------------
def k3_dtype_policy():
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}


def k3_initializer(class_name):
    return {"module": "keras.initializers", "class_name": class_name, "config": {}, "registered_name": None}


K3_ACTIVATIONS = {"swish": "silu"}  # Keras 3 serializes swish as "silu"; the rest keep their name


def k3_activation(name):
    check(name != "gelu_new", "gelu_new has no Keras 3 name")
    return K3_ACTIVATIONS.get(name, name)


def k3_layer_config(layer):
    cfg = {"name": layer.name, "trainable": True, "dtype": k3_dtype_policy()}
    o = layer.opts
    if layer.cls == "Dense":
        cfg.update({
            "units": o["units"],
            "activation": k3_activation(o["activation"]),
            "use_bias": o["use_bias"],
            "kernel_initializer": k3_initializer("Zeros"),
            "bias_initializer": k3_initializer("Zeros"),
            "kernel_regularizer": None,
            "bias_regularizer": None,
            "kernel_constraint": None,
            "bias_constraint": None,
        })
    elif layer.cls in RNN_CLASSES:
        # LSTM/GRU/SimpleRNN.get_config(): the RNN keys, then the cell's (GRU: reset_after before seed).
        cfg.update({
            "return_sequences": o["return_sequences"],
            "return_state": o["return_state"],
            "go_backwards": o["go_backwards"],
            "stateful": o["stateful"],
            "unroll": False,
            "zero_output_for_mask": False,
            "units": o["units"],
            "activation": k3_activation(o["activation"]),
        })
        if layer.cls != "SimpleRNN":
            cfg["recurrent_activation"] = k3_activation(o["recurrent_activation"])
        cfg.update({
            "use_bias": o["use_bias"],
            "kernel_initializer": k3_initializer("Zeros"),
            "recurrent_initializer": k3_initializer("Zeros"),
            "bias_initializer": k3_initializer("Zeros"),
        })
        if layer.cls == "LSTM":
            cfg["unit_forget_bias"] = True
        cfg.update({
            "kernel_regularizer": None,
            "recurrent_regularizer": None,
            "bias_regularizer": None,
            "activity_regularizer": None,
            "kernel_constraint": None,
            "recurrent_constraint": None,
            "bias_constraint": None,
            "dropout": 0.0,
            "recurrent_dropout": 0.0,
        })
        if layer.cls == "GRU":
            cfg["reset_after"] = o["reset_after"]
        cfg["seed"] = None
    elif layer.cls == "TimeDistributed":
        cfg["layer"] = k3_serialize_layer(layer.inner)
    elif layer.cls == "Bidirectional":
        # Bidirectional.get_config(): merge_mode, the forward layer, and always the backward layer.
        cfg["merge_mode"] = o["merge_mode"]
        cfg["layer"] = k3_serialize_layer(layer.inner)
        cfg["backward_layer"] = k3_serialize_layer(layer.backward)
    elif layer.cls == "Masking":
        cfg["mask_value"] = o["mask_value"]
    elif layer.cls == "Embedding":
        cfg.update({
            "input_dim": o["input_dim"],
            "output_dim": o["output_dim"],
            "embeddings_initializer": k3_initializer("Zeros"),
            "embeddings_regularizer": None,
            "activity_regularizer": None,
            "embeddings_constraint": None,
            "mask_zero": o["mask_zero"],
        })
    elif layer.cls in NORM_CLASSES:
        # BatchNormalization / LayerNormalization.get_config() (keras/src/layers/normalization/)
        if layer.cls == "BatchNormalization":
            cfg.update({"axis": o["axis"], "momentum": 0.99, "epsilon": o["epsilon"], "center": o["center"],
                        "scale": o["scale"]})
            names = ("beta", "gamma", "moving_mean", "moving_variance")
        else:
            cfg.update({"axis": o["axis"], "epsilon": o["epsilon"], "center": o["center"], "scale": o["scale"],
                        "rms_scaling": False})
            names = ("beta", "gamma")
        for n in names:
            cfg[f"{n}_initializer"] = k3_initializer("Ones" if n in ("gamma", "moving_variance") else "Zeros")
        cfg.update({"beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None,
                    "gamma_constraint": None})
        if layer.cls == "BatchNormalization":
            cfg.update({"synchronized": False, "renorm": False, "renorm_clipping": None, "renorm_momentum": 0.99})
    elif layer.cls == "Scale":  # the custom class: {**super().get_config(), "axis": self.axis}
        cfg["axis"] = o["axis"]
    elif is_generic(layer.cls):
        cfg.update(_generic_config(layer, "k3"))
    else:
        raise FixtureError(f"k3: unsupported {layer.cls}")
    return cfg


def k3_build_config(layer):
    # Layer.get_build_config(): the bound arguments of build(). RNN.build(sequences_shape,
    # initial_state_shape=None) called with an initial_state records two shapes -> "shapes_dict".
    if layer.cls in ATTENTION_CLASSES:  # build(query_shape, value_shape, key_shape=None)
        n = layer.k3_kwargs["n_args"]
        shapes = {"query_shape": layer.in_shapes[0], "value_shape": layer.in_shapes[1]}
        keys = [k for k in sorted(layer.k3_kwargs["kwargs"]) if _is_k3_tensor(layer.k3_kwargs["kwargs"][k])]
        if n > 2 or "key" in keys:
            shapes["key_shape"] = layer.in_shapes[2] if n > 2 else layer.in_shapes[n + keys.index("key")]
        return {"shapes_dict": shapes}
    if layer.cls in RNN_CLASSES + ("RNN",) and len(layer.in_shapes) > 1:
        return {"shapes_dict": {"sequences_shape": layer.in_shapes[0], "initial_state_shape": layer.in_shapes[1:]}}
    return {"input_shape": layer.in_shapes[0]}


def k3_serialize_layer(layer):
    # A built-in layer: serialize_with_public_class with its keras.layers export (registered_name
    # None). A registered custom class: its own module and "<package>><name>" (CUSTOM_CLASSES).
    custom = CUSTOM_CLASSES.get(layer.cls)
    return {
        "module": custom["module"] if custom else "keras.layers",
        "class_name": layer.cls,
        "config": k3_layer_config(layer),
        "registered_name": custom["registered_name"] if custom else None,
        "build_config": k3_build_config(layer),
    }


def k3_input_layer(name, batch_shape, dtype="float32"):
    return {
        "module": "keras.layers",
        "class_name": "InputLayer",
        "config": {"batch_shape": batch_shape, "dtype": dtype, "sparse": False, "name": name},
        "registered_name": None,
    }


def k3_keras_tensor(shape, history):
    return {"class_name": "__keras_tensor__", "config": {"shape": shape, "dtype": "float32", "keras_history": list(history)}}


def k3_inbound_node(layer):
    """functional.serialize_node(): the call's args and kwargs, KerasTensors as __keras_tensor__.
    Layer.__call__ adds training=<signature default> when not None, and mask=None when call() has a
    mask argument and exactly one tensor argument."""
    refs = [k3_keras_tensor(shape, ref) for ref, shape in zip(layer.inbound, layer.in_shapes)]
    if layer.cls in ATTENTION_CLASSES:
        # mha(query, value[, key], key=..., attention_mask=..., use_causal_mask=...): the positional
        # tensors as args, the tensor kwargs (after them, in key order) and flags as kwargs.
        check(layer.k3_kwargs is not None, f"{layer.name}: {layer.cls} needs a Keras 3 source node")
        n = layer.k3_kwargs["n_args"]
        source = layer.k3_kwargs["kwargs"]
        tensor_keys = [k for k in sorted(source) if _is_k3_tensor(source[k])]
        kwargs = {k: v for k, v in source.items() if not _is_k3_tensor(v)}
        kwargs.update({k: r for k, r in zip(tensor_keys, refs[n:])})
        return {"args": refs[:n], "kwargs": kwargs}
    if layer.cls in RNN_CLASSES + ("Bidirectional", "RNN") and len(refs) > 1:
        return {"args": [refs[0]], "kwargs": {"initial_state": refs[1:], "training": False}}
    if is_generic(layer.cls) and len(refs) > 1:  # a merge layer: called on a list of tensors
        return {"args": [refs], "kwargs": dict(K3_CALL_KWARGS.get(layer.cls, {}))}
    check(len(refs) == 1, f"{layer.name}: unexpected inbound tensors")
    if is_generic(layer.cls):
        kwargs = dict(K3_CALL_KWARGS.get(layer.cls, {}))
    elif layer.cls in RNN_CLASSES + ("Bidirectional",):
        kwargs = {"training": False, "mask": None}
    elif layer.cls == "TimeDistributed":
        kwargs = {"mask": None}
    else:
        kwargs = {}
    return {"args": [refs[0]], "kwargs": kwargs}


def k3_model_config(model):
    if model.kind == "Sequential":
        batch_shape = model.layers[0].batch_shape
        dtype = "int32" if model.layers[0].cls == "Embedding" else "float32"  # token ids
        layers = [k3_input_layer("input_layer", batch_shape, dtype)] + [k3_serialize_layer(x) for x in model.layers]
        return {
            "module": "keras",
            "class_name": "Sequential",
            "config": {
                "name": model.name,
                "trainable": True,
                "dtype": k3_dtype_policy(),
                "layers": layers,
                "build_input_shape": batch_shape,
            },
            "registered_name": None,
            "build_config": {"input_shape": batch_shape},
        }
    layers = []
    for layer in model.layers:
        if layer.cls == "InputLayer":
            entry = k3_input_layer(layer.name, layer.batch_shape)
            entry["name"] = layer.name
            entry["inbound_nodes"] = []
        else:
            entry = k3_serialize_layer(layer)
            entry["name"] = layer.name
            entry["inbound_nodes"] = [k3_inbound_node(layer)]
        layers.append(entry)
    return {
        "module": "keras.src.models.functional",
        "class_name": "Functional",
        "config": {
            "name": model.name,
            "trainable": True,
            "layers": layers,
            "input_layers": [[x.name, 0, 0] for x in model.input_layers()],
            "output_layers": [list(o) for o in model.outputs],
        },
        "registered_name": "Functional",
        "build_config": {"input_shape": None},
    }


def snake_case(class_name):
    # keras.src.utils.naming.to_snake_case
    name = re.sub(r"\W+", "", class_name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    return name


def k3_container_keys(classes):
    """saving_lib._save_container_state: snake_case(class name), then _1, _2, ... per class."""
    used = {}
    keys = []
    for cls in classes:
        key = snake_case(cls)
        if key in used:
            used[key] += 1
            key = f"{key}_{used[key]}"
        else:
            used[key] = 0
        keys.append(key)
    return keys


def k3_vars(h5, path, name, arrays=()):
    """H5IOStore.make(path, metadata={"name": ...}): <path>/vars with attribute name, then the
    layer's variables as datasets "0", "1", ..."""
    group = h5_group(h5, f"{path}/vars" if path else "vars")
    group.attrs["name"] = name
    for i, arr in enumerate(arrays):
        group.create_dataset(str(i), data=arr, track_times=False)


def k3_save_layer_state(h5, path, layer):
    """_save_state on one layer: its own vars, then its saveable attributes (sorted by name):
    LSTM -> cell (an LSTMCell named "lstm_cell"), TimeDistributed -> layer."""
    arrays = [a for _, a in layer.weights]
    if layer.cls == "Dense":
        k3_vars(h5, path, layer.name, arrays)
    elif layer.cls in CELL_NAMES:
        k3_vars(h5, path, layer.name)
        k3_vars(h5, f"{path}/cell", CELL_NAMES[layer.cls], arrays)
    elif layer.cls == "Bidirectional":
        k3_vars(h5, path, layer.name)
        half = len(layer.weights) // 2
        for attr, sub, weights in (("forward_layer", layer.inner, layer.weights[:half]),
                                   ("backward_layer", layer.backward, layer.weights[half:])):
            sub = copy.copy(sub)
            sub.weights = weights
            k3_save_layer_state(h5, f"{path}/{attr}", sub)
    elif layer.cls in ATTENTION_CLASSES:
        # Keras 3 saves the four EinsumDense sublayers under their public attributes (saving_lib visits
        # public names first): query_dense ("query"), key_dense, value_dense, output_dense
        # ("attention_output"), each with kernel (and bias); the layer's own vars are empty.
        # GroupedQueryAttention has no public properties for them: saving_lib names them by their
        # private attributes, _query_dense, _key_dense, _value_dense, _output_dense.
        k3_vars(h5, path, layer.name)
        per = len(arrays) // 4
        check(per in (1, 2) and len(arrays) == 4 * per, f"{layer.name}: {layer.cls} needs 4 or 8 weights")
        prefix = "_" if layer.cls == "GroupedQueryAttention" else ""
        for k, (attr, name) in enumerate(((prefix + "query_dense", "query"), (prefix + "key_dense", "key"),
                                          (prefix + "value_dense", "value"),
                                          (prefix + "output_dense", "attention_output"))):
            k3_vars(h5, f"{path}/{attr}", name, arrays[k * per:(k + 1) * per])
    elif is_generic(layer.cls) and nested_weight_holders(k3_layer_config(layer)):
        # Weights of nested layers (an RNN's cell, a stack's cells) at the nested layers' paths.
        k3_vars(h5, path, layer.name)
        holders = nested_weight_holders(k3_layer_config(layer))
        for (sub, name), part in zip(holders, nested_weight_parts(layer, holders)):
            k3_vars(h5, f"{path}/{sub}", name, [a for _, a in part])
    elif layer.cls in ("Masking", "Embedding", "Scale") + NORM_CLASSES or is_generic(layer.cls):
        k3_vars(h5, path, layer.name, arrays)
    elif layer.cls == "TimeDistributed":
        k3_vars(h5, path, layer.name)
        inner = copy.copy(layer.inner)
        inner.weights = layer.weights
        k3_save_layer_state(h5, f"{path}/layer", inner)
    elif layer.cls == "InputLayer":
        k3_vars(h5, path, layer.name)
    else:
        raise FixtureError(f"k3 weights: unsupported {layer.cls}")


def k3_weights_h5(model):
    buf = io.BytesIO()
    with h5py.File(buf, "w") as h5:
        k3_vars(h5, "", model.name)  # the model's own (empty) vars
        layers = model.layers  # Sequential.layers excludes the InputLayer; Functional includes it
        for key, layer in zip(k3_container_keys([x.cls for x in layers]), layers):
            k3_save_layer_state(h5, f"layers/{key}", layer)
    return buf.getvalue()


def zip_member(name):
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = 3
    info.external_attr = 0o600 << 16
    return info


def write_keras(model, path):
    metadata = json.dumps({"keras_version": KERAS3_VERSION, "date_saved": KERAS3_DATE_SAVED})
    config = json.dumps(k3_model_config(model))
    weights = k3_weights_h5(model)
    # saving_lib: ZipFile(fileobj, "w") (ZIP_STORED), zf.open("metadata.json", "w"), then
    # "config.json", then archive.writestr("model.weights.h5", ...); zipfile gives each member
    # external_attr 0o600 << 16. Only the timestamps are fixed here.
    path.write_bytes(keras_zip([("metadata.json", metadata.encode()), ("config.json", config.encode()),
                                ("model.weights.h5", weights)]))


def keras_zip(members):
    """A .keras archive of (name, bytes) members, in order, stored, with the fixed timestamp."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members:
            zf.writestr(zip_member(name), data)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# tf.keras 2.15 legacy configs and Keras 2.2.4 configs
# ---------------------------------------------------------------------------------------------
def tf_initializer(class_name):
    # tf_keras initializers.serialize() uses the new serialization_lib even inside legacy configs.
    return {"module": "keras.initializers", "class_name": class_name, "config": {}, "registered_name": None}


def old_initializer(class_name):
    return {"class_name": class_name, "config": {}}


def legacy_layer_config(layer, flavour, batch_shape=None):
    """Layer.get_config() of tf.keras 2.15 (flavour "tf") or Keras 2.2.4 (flavour "old")."""
    init = tf_initializer if flavour == "tf" else old_initializer
    cfg = {"name": layer.name, "trainable": True}
    if batch_shape is not None:
        cfg["batch_input_shape"] = batch_shape
    if flavour == "tf" or batch_shape is not None:  # Keras 2.2.4 sets dtype only with an input shape
        cfg["dtype"] = "float32"
    o = layer.opts
    if layer.cls == "Dense":
        cfg.update({
            "units": o["units"],
            "activation": o["activation"],
            "use_bias": o["use_bias"],
            "kernel_initializer": init("Zeros"),
            "bias_initializer": init("Zeros"),
            "kernel_regularizer": None,
            "bias_regularizer": None,
            "activity_regularizer": None,
            "kernel_constraint": None,
            "bias_constraint": None,
        })
    elif layer.cls in RNN_CLASSES:
        check(flavour == "tf" or layer.cls == "LSTM", f"{layer.cls}: only the tf.keras spelling is written")
        cfg.update({
            "return_sequences": o["return_sequences"],
            "return_state": o["return_state"],
            "go_backwards": o["go_backwards"],
            "stateful": o["stateful"],
            "unroll": False,
        })
        if flavour == "tf":
            cfg["time_major"] = False
        cfg.update({"units": o["units"], "activation": o["activation"]})
        if layer.cls != "SimpleRNN":
            cfg["recurrent_activation"] = o["recurrent_activation"]
        cfg.update({
            "use_bias": o["use_bias"],
            "kernel_initializer": init("Zeros"),
            "recurrent_initializer": init("Zeros"),
            "bias_initializer": init("Zeros"),
        })
        if layer.cls == "LSTM":
            cfg["unit_forget_bias"] = True
        cfg.update({
            "kernel_regularizer": None,
            "recurrent_regularizer": None,
            "bias_regularizer": None,
            "activity_regularizer": None,
            "kernel_constraint": None,
            "recurrent_constraint": None,
            "bias_constraint": None,
            "dropout": 0.0,
            "recurrent_dropout": 0.0,
        })
        if layer.cls != "SimpleRNN":
            cfg["implementation"] = 2 if flavour == "tf" else 1
        if layer.cls == "GRU":
            cfg["reset_after"] = o["reset_after"]
    elif layer.cls == "Bidirectional":
        # tf_keras Bidirectional.get_config: the wrapped layer (the user's, go_backwards false, its own name) and
        # merge_mode; backward_layer only when one was given (not here).
        check(flavour == "tf", "Bidirectional: only the tf.keras spelling is written")
        inner = copy.copy(layer.inner)
        inner.name = _strip(inner.name, "forward_")
        cfg["layer"] = {"module": "keras.layers", "class_name": inner.cls,
                        "config": legacy_layer_config(inner, flavour), "registered_name": None}
        cfg["merge_mode"] = o["merge_mode"]
    elif layer.cls == "Masking":
        check(flavour == "tf", "Masking: only the tf.keras spelling is written")
        cfg["mask_value"] = o["mask_value"]
    elif layer.cls == "Embedding":
        check(flavour == "tf", "Embedding: only the tf.keras spelling is written")
        cfg.update({
            "input_dim": o["input_dim"],
            "output_dim": o["output_dim"],
            "embeddings_initializer": init("Zeros"),
            "embeddings_regularizer": None,
            "activity_regularizer": None,
            "embeddings_constraint": None,
            "mask_zero": o["mask_zero"],
            "input_length": None,
        })
    elif layer.cls in NORM_CLASSES:
        check(flavour == "tf", f"{layer.cls}: only the tf.keras spelling is written")
        cfg.update({"axis": o["axis"]})
        if layer.cls == "BatchNormalization":
            cfg["momentum"] = 0.99
        cfg.update({"epsilon": o["epsilon"], "center": o["center"], "scale": o["scale"]})
        names = ("beta", "gamma", "moving_mean", "moving_variance") if layer.cls == "BatchNormalization" else ("beta", "gamma")
        for n in names:
            cfg[f"{n}_initializer"] = init("Ones" if n in ("gamma", "moving_variance") else "Zeros")
        cfg.update({"beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None,
                    "gamma_constraint": None})
    elif layer.cls == "TimeDistributed":
        inner = {"class_name": layer.inner.cls, "config": legacy_layer_config(layer.inner, flavour)}
        if flavour == "tf":  # tf_keras Wrapper.get_config uses serialization_lib for the inner layer
            inner = {"module": "keras.layers", **inner, "registered_name": None}
        cfg["layer"] = inner
    elif is_generic(layer.cls):
        cfg.update(_generic_config(layer, flavour))
    else:
        raise FixtureError(f"legacy config: unsupported {layer.cls}")
    return cfg


def legacy_input_config(name, batch_shape, flavour):
    cfg = {"batch_input_shape": batch_shape, "dtype": "float32", "sparse": False}
    if flavour == "tf":
        cfg["ragged"] = False
    cfg["name"] = name
    return cfg


def legacy_model_config(model, flavour):
    """{"class_name", "config"} as model.get_config() gives it (tf.keras 2.15 or Keras 2.2.4)."""
    if model.kind == "Sequential":
        layers = []
        first = model.layers[0]
        if flavour == "tf":  # tf.keras 2.x lists the auto-created InputLayer "<first layer>_input"
            layers.append({"class_name": "InputLayer",
                           "config": legacy_input_config(first.name + "_input", first.batch_shape, flavour)})
        for i, layer in enumerate(model.layers):
            shape = layer.batch_shape if i == 0 else None
            layers.append({"class_name": layer.cls, "config": legacy_layer_config(layer, flavour, shape)})
        return {"class_name": "Sequential", "config": {"name": model.name, "layers": layers}}

    layers = []
    for layer in model.layers:
        if layer.cls == "InputLayer":
            cfg = legacy_input_config(layer.name, layer.batch_shape, flavour)
            nodes = []
        else:
            cfg = legacy_layer_config(layer, flavour)
            nodes = [[[n, i, t, {}] for n, i, t in layer.inbound]]
        if flavour == "tf":  # get_network_config: serialize_layer_fn(layer) + name + inbound_nodes
            layers.append({"class_name": layer.cls, "config": cfg, "name": layer.name, "inbound_nodes": nodes})
        else:  # Keras 2.2.4 Network.get_config
            layers.append({"name": layer.name, "class_name": layer.cls, "config": cfg, "inbound_nodes": nodes})
    config = {"name": model.name}
    if flavour == "tf":
        config["trainable"] = True
    config.update({
        "layers": layers,
        "input_layers": [[x.name, 0, 0] for x in model.input_layers()],
        "output_layers": [list(o) for o in model.outputs],
    })
    return {"class_name": "Functional" if flavour == "tf" else "Model", "config": config}


def legacy_weight_names(layer, flavour):
    """Variable names as h5 weight_names. tf.keras 2.15: `<layer>/kernel:0`, LSTM cell weights under
    the cell's name scope `<layer>/lstm_cell/...:0`, a TimeDistributed's inner weights under the
    wrapper's scope `<td>/kernel:0`. Keras 2.2.4 + Theano: `<layer>/kernel` (no cell scope, no :0)."""
    suffix = ":0" if flavour == "tf" else ""
    if layer.cls == "Bidirectional":
        # bidirectional/forward_lstm/lstm_cell/kernel:0 ..., then bidirectional/backward_lstm/...
        half = len(layer.weights) // 2
        names = []
        for i, (short, _) in enumerate(layer.weights):
            sub = layer.inner if i < half else layer.backward
            names.append(f"{layer.name}/{sub.name}/{CELL_NAMES[sub.cls]}/{short}{suffix}")
        return names
    core = layer.inner if layer.cls == "TimeDistributed" else layer
    scope = layer.name
    if flavour == "tf" and core.cls in CELL_NAMES:
        scope += "/" + CELL_NAMES[core.cls]
    holders = nested_weight_holders(_generic_config(layer, flavour)) if is_generic(layer.cls) else []
    if holders:  # under each nested layer's name scope: rnn/lstm_cell/kernel, rnn/gru_cell/kernel
        parts = nested_weight_parts(layer, holders)
        return [f"{scope}/{name}/{short}{suffix}" for (_, name), part in zip(holders, parts) for short, _ in part]
    return [f"{scope}/{short}{suffix}" for short, _ in layer.weights]


def model_layers_for_h5(model):
    # Sequential.layers omits the auto-created InputLayer; Functional.layers lists every layer.
    return list(model.layers)


def write_legacy_weights_group(group, model, flavour):
    """save_weights_to_hdf5_group (tf.keras 2.15 hdf5_format / keras 2.2.4 saving._serialize_model)."""
    layers = model_layers_for_h5(model)
    version = TF_KERAS_VERSION if flavour == "tf" else OLD_KERAS_VERSION
    backend = "tensorflow" if flavour == "tf" else OLD_KERAS_BACKEND
    fixed = flavour == "old"
    h5_bytes_list_attr(group, "layer_names", [x.name.encode("utf8") for x in layers], fixed)
    group.attrs["backend"] = backend.encode("utf8")
    group.attrs["keras_version"] = version.encode("utf8")
    # tf.keras creates the layer groups sorted by name; Keras 2.2.4 in model.layers order.
    order = sorted(layers, key=lambda x: x.name) if flavour == "tf" else layers
    for layer in order:
        g = h5_group(group, layer.name)
        names = legacy_weight_names(layer, flavour) if layer.cls != "InputLayer" else []
        h5_bytes_list_attr(g, "weight_names", [n.encode("utf8") for n in names], fixed)
        for name, (_, arr) in zip(names, layer.weights):
            h5_dataset(g, name, arr)
    if flavour == "tf":  # recent tf.keras (tf_keras 2.15): the model's own weights, none here
        g = h5_group(group, "top_level_model_weights")
        h5_bytes_list_attr(g, "weight_names", [])


def write_h5(model, path, flavour):
    config = json.dumps(legacy_model_config(model, flavour)).encode("utf8")
    with h5py.File(path, "w") as f:
        if flavour == "tf":
            # save_model_to_hdf5: model_metadata() items; dicts are json.dumps(...).encode("utf8")
            f.attrs["keras_version"] = TF_KERAS_VERSION
            f.attrs["backend"] = "tensorflow"
            f.attrs["model_config"] = config
        else:  # Keras 2.2.4 _serialize_model: everything encoded to bytes
            f.attrs["keras_version"] = OLD_KERAS_VERSION.encode("utf8")
            f.attrs["backend"] = OLD_KERAS_BACKEND.encode("utf8")
            f.attrs["model_config"] = config
        write_legacy_weights_group(h5_group(f, "model_weights"), model, flavour)


def write_h5_weights(model, weights_path, json_path):
    with h5py.File(weights_path, "w") as f:  # legacy save_weights: the group is the file root
        write_legacy_weights_group(f, model, "tf")
    to_json = legacy_model_config(model, "tf")  # Model._updated_config()
    to_json["keras_version"] = TF_KERAS_VERSION
    to_json["backend"] = "tensorflow"
    json_path.write_text(json.dumps(to_json))


# ---------------------------------------------------------------------------------------------
# Keras 1.2.2 files (option "keras1"): Keras 1 config names, per-gate RNN weights, no backend attr
# ---------------------------------------------------------------------------------------------
KERAS1_VERSION = "1.2.2"
KERAS1_BACKENDS = ("theano", "tensorflow")  # recorded nowhere in the file: only the weight names differ
# Keras 1.2.2 keras/layers/recurrent.py, LSTM.build (consume_less "cpu"/"mem"): trainable_weights =
# [W_i, U_i, b_i, W_c, U_c, b_c, W_f, U_f, b_f, W_o, U_o, b_o]; Keras 2's kernel columns are i, f, c, o.
# GRU.build: W_z, U_z, b_z, W_r, U_r, b_r, W_h, U_h, b_h (add_weight order), Keras 2's z, r, h.
# Each gate: (name, column block in Keras 2's kernel / recurrent_kernel / bias).
KERAS1_GATES = {"LSTM": [("i", 0), ("c", 2), ("f", 1), ("o", 3)], "GRU": [("z", 0), ("r", 1), ("h", 2)]}
# Keras 2.0.9 keras/engine/topology.py preprocess_weights_for_loading (original_keras_version == '1'):
# the stored indices concatenated into kernel, recurrent_kernel and bias. Used to check the files written
# here, independently of KERAS1_GATES.
KERAS2_FROM_KERAS1 = {"LSTM": ([0, 6, 3, 9], [1, 7, 4, 10], [2, 8, 5, 11]),
                      "GRU": ([0, 3, 6], [1, 4, 7], [2, 5, 8])}
KERAS1_INITS = {"Dense": "glorot_uniform", "Embedding": "uniform"}


def keras1_layer_config(layer, batch_shape=None, name=None):
    """Layer.get_config() of Keras 1.2.2: the base keys (name, trainable, batch_input_shape and input_dtype
    when the layer was given an input shape) first, then the layer's own (dict(base + config))."""
    o = layer.opts
    cfg = {"name": name or layer.name, "trainable": True}
    if batch_shape is not None:
        cfg["batch_input_shape"] = batch_shape
        cfg["input_dtype"] = "int32" if layer.cls == "Embedding" else "float32"
    if layer.cls == "Dense":  # core.py Dense.get_config
        cfg.update({"output_dim": o["units"], "init": "glorot_uniform", "activation": o["activation"],
                    "W_regularizer": None, "b_regularizer": None, "activity_regularizer": None,
                    "W_constraint": None, "b_constraint": None, "bias": o["use_bias"],
                    "input_dim": layer.in_shapes[0][-1]})
    elif layer.cls in RNN_CLASSES:  # recurrent.py: Recurrent.get_config, then the class's
        check(o["use_bias"] and not o["return_state"], f"{layer.name}: Keras 1 RNNs always have a bias, no states")
        check(layer.cls != "GRU" or not o["reset_after"], f"{layer.name}: Keras 1's GRU is reset_after=false")
        cfg.update({"return_sequences": o["return_sequences"], "go_backwards": o["go_backwards"],
                    "stateful": o["stateful"], "unroll": False, "consume_less": o.get("consume_less", "cpu")})
        if o["stateful"]:
            cfg["batch_input_shape"] = layer.in_shapes[0]
        else:
            cfg["input_dim"] = layer.in_shapes[0][2]
            cfg["input_length"] = batch_shape[1] if batch_shape is not None else None
        cfg.update({"output_dim": o["units"], "init": "glorot_uniform", "inner_init": "orthogonal"})
        if layer.cls == "LSTM":
            cfg["forget_bias_init"] = "one"
        cfg["activation"] = o["activation"]
        if layer.cls != "SimpleRNN":
            cfg["inner_activation"] = o["recurrent_activation"]
        cfg.update({"W_regularizer": None, "U_regularizer": None, "b_regularizer": None,
                    "dropout_W": 0.0, "dropout_U": 0.0})
    elif layer.cls == "Embedding":  # embeddings.py Embedding.get_config
        cfg.update({"input_dim": o["input_dim"], "output_dim": o["output_dim"], "init": "uniform",
                    "input_length": batch_shape[1] if batch_shape is not None else None,
                    "mask_zero": o["mask_zero"], "activity_regularizer": None, "W_regularizer": None,
                    "W_constraint": None, "dropout": 0.0})
    elif layer.cls == "Masking":
        cfg["mask_value"] = o["mask_value"]
    elif layer.cls == "TimeDistributed":  # wrappers.py Wrapper.get_config
        cfg["layer"] = {"class_name": layer.inner.cls, "config": keras1_layer_config(layer.inner)}
    elif layer.cls == "Bidirectional":  # the user's layer under its own name, then merge_mode
        base = _strip(layer.inner.name, "forward_")
        cfg["layer"] = {"class_name": layer.inner.cls, "config": keras1_layer_config(layer.inner, name=base)}
        cfg["merge_mode"] = o["merge_mode"]
    elif layer.cls == "Dropout":  # core.py Dropout.get_config: the rate is p
        cfg["p"] = o["rate"]
    elif layer.cls == "Reshape":  # Keras 1 writes the inferred dimension as -1 (tfjs: null)
        cfg["target_shape"] = [-1 if d is None else d for d in o["target_shape"]]
    elif layer.cls in ("Activation", "Flatten", "RepeatVector"):
        for key in {"Activation": ["activation"], "Flatten": [], "RepeatVector": ["n"]}[layer.cls]:
            cfg[key] = o[key]
    elif layer.cls == "ConvLSTM2D":  # convolutional_recurrent.py: ConvRecurrent2D.get_config, then ConvLSTM2D's
        check(o["use_bias"] and not o.get("return_state") and o.get("data_format", "channels_last") == "channels_last"
              and all(d == 1 for d in o["dilation_rate"]),
              f"{layer.name}: Keras 1's ConvLSTM2D has a bias, no states, no dilation, channels last")
        cfg.update({"return_sequences": o["return_sequences"], "go_backwards": o["go_backwards"],
                    "stateful": o["stateful"], "nb_filter": o["filters"], "nb_row": o["kernel_size"][0],
                    "nb_col": o["kernel_size"][1], "init": "glorot_uniform", "inner_init": "orthogonal",
                    "forget_bias_init": "one", "activation": o["activation"],
                    "dim_ordering": "tf", "border_mode": o["padding"], "inner_activation": o["recurrent_activation"],
                    "subsample": list(o["strides"]), "W_regularizer": None, "U_regularizer": None,
                    "b_regularizer": None, "dropout_W": 0.0, "dropout_U": 0.0})
    elif layer.cls in KERAS1_SPATIAL or layer.cls in KERAS1_MERGE_MODES or layer.cls == "BatchNormalization":
        cfg.update(keras1_spatial_config(layer, batch_shape))
    else:
        raise FixtureError(f"Keras 1 config: {layer.cls} is not written")
    return cfg


# Keras 1.2.2's names of the Keras 2 classes written below (convolutional.py, pooling.py, ...), and the Merge
# modes of the merge layers (engine/topology.py Merge). Keras 1's Merge needs inputs of one shape (sum, mul,
# ave, max) and has no normalize (its "cos" mode is refused by strata).
KERAS1_SPATIAL = ("Conv1D", "Conv2D", "Conv3D", "MaxPooling1D", "AveragePooling1D", "MaxPooling2D",
                  "AveragePooling2D", "MaxPooling3D", "AveragePooling3D", "GlobalMaxPooling1D",
                  "GlobalAveragePooling1D", "GlobalMaxPooling2D", "GlobalAveragePooling2D", "ZeroPadding1D",
                  "ZeroPadding2D", "Cropping1D", "Cropping2D", "UpSampling1D", "UpSampling2D", "LeakyReLU", "ELU",
                  "ThresholdedReLU", "PReLU", "Conv2DTranspose", "SeparableConv2D")
# Keras 1.2.2's Deconvolution2D and SeparableConvolution2D (convolutional.py).
KERAS1_CONV_VARIANTS = {"Conv2DTranspose": "Deconvolution2D", "SeparableConv2D": "SeparableConvolution2D"}
KERAS1_MERGE_MODES = {"Add": "sum", "Multiply": "mul", "Average": "ave", "Maximum": "max", "Concatenate": "concat",
                      "Dot": "dot"}


def keras1_class(layer):
    """The Keras 1.2.2 class name of a layer."""
    o = layer.opts
    if layer.cls in ("Conv1D", "Conv2D"):
        atrous = any(d != 1 for d in o["dilation_rate"])
        return ("AtrousConvolution" if atrous else "Convolution") + layer.cls[-2:]
    if layer.cls == "Conv3D":
        return "Convolution3D"
    if layer.cls in KERAS1_CONV_VARIANTS:
        return KERAS1_CONV_VARIANTS[layer.cls]
    if layer.cls in KERAS1_MERGE_MODES:
        return "Merge"
    return layer.cls


def _dim_ordering(o):
    return {"channels_last": "tf", "channels_first": "th"}[o.get("data_format") or "channels_last"]


def keras1_spatial_config(layer, batch_shape):
    """Keras 1.2.2 get_config keys of the convolution, pooling, padding, upsampling, normalization,
    advanced-activation and merge layers, from the tfjs options."""
    o = layer.opts
    cls = layer.cls
    if cls in KERAS1_CONV_VARIANTS:  # Deconvolution2D(Convolution2D) and SeparableConvolution2D get_config
        check(o.get("data_format", "channels_last") == "channels_last" and o["padding"] in ("valid", "same")
              and all(d == 1 for d in o.get("dilation_rate", [1, 1])) and not o.get("output_padding"),
              f"{layer.name}: Keras 1's {KERAS1_CONV_VARIANTS[cls]} is channels last, 'valid' or 'same', undilated")
        cfg = {"nb_filter": o["filters"], "nb_row": o["kernel_size"][0], "nb_col": o["kernel_size"][1],
               "init": "glorot_uniform", "activation": o["activation"], "border_mode": o["padding"],
               "subsample": list(o["strides"])}
        if cls == "SeparableConv2D":
            cfg.update({"depth_multiplier": o.get("depth_multiplier", 1), "dim_ordering": "tf",
                        "depthwise_regularizer": None, "pointwise_regularizer": None, "b_regularizer": None,
                        "activity_regularizer": None, "depthwise_constraint": None, "pointwise_constraint": None,
                        "b_constraint": None, "bias": o["use_bias"]})
        else:
            cfg.update({"dim_ordering": "tf", "W_regularizer": None, "b_regularizer": None,
                        "activity_regularizer": None, "W_constraint": None, "b_constraint": None,
                        "bias": o["use_bias"], "output_shape": [None] + list(layer.out_shapes[0][1:])})
        return cfg
    if cls.startswith("Conv"):
        n = int(cls[-2])
        check(o.get("data_format", "channels_last") == "channels_last" and o["padding"] in ("valid", "same"),
              f"{layer.name}: Keras 1 convolutions are written channels last, 'valid' or 'same'")
        check(o.get("groups", 1) == 1, f"{layer.name}: Keras 1 has no grouped convolution")
        cfg = {"nb_filter": o["filters"]}
        if n == 1:
            cfg["filter_length"] = o["kernel_size"][0]
        elif n == 2:
            cfg.update({"nb_row": o["kernel_size"][0], "nb_col": o["kernel_size"][1]})
        else:
            cfg.update({f"kernel_dim{i + 1}": k for i, k in enumerate(o["kernel_size"])})
        cfg.update({"init": "glorot_uniform", "activation": o["activation"], "border_mode": o["padding"]})
        if n == 1:
            cfg["subsample_length"] = o["strides"][0]
        else:
            cfg.update({"subsample": list(o["strides"]), "dim_ordering": "tf"})
        if any(d != 1 for d in o["dilation_rate"]):
            check(n < 3, f"{layer.name}: Keras 1 has no atrous Convolution3D")
            cfg["atrous_rate"] = o["dilation_rate"][0] if n == 1 else list(o["dilation_rate"])
        cfg.update({"W_regularizer": None, "b_regularizer": None, "activity_regularizer": None,
                    "W_constraint": None, "b_constraint": None, "bias": o["use_bias"]})
        if n == 1:
            cfg.update({"input_dim": layer.in_shapes[0][-1],
                        "input_length": batch_shape[1] if batch_shape is not None else None})
        return cfg
    if "Pooling" in cls and not cls.startswith("Global"):
        if cls.endswith("1D"):
            return {"stride": o["strides"][0] if o.get("strides") else None, "pool_length": o["pool_size"][0],
                    "border_mode": o["padding"]}
        return {"pool_size": list(o["pool_size"]), "border_mode": o["padding"],
                "strides": list(o["strides"]) if o.get("strides") else None, "dim_ordering": _dim_ordering(o)}
    if cls.startswith("Global"):
        return {} if cls.endswith("1D") else {"dim_ordering": _dim_ordering(o)}
    if cls == "ZeroPadding2D":  # Keras 1 took (top, bottom, left, right) for uneven sides
        (t, b), (l, r) = o["padding"]
        return {"padding": [t, b, l, r], "dim_ordering": _dim_ordering(o)}
    if cls in ("ZeroPadding1D", "Cropping1D"):
        key = "padding" if cls.startswith("Zero") else "cropping"
        return {key: o[key]}
    if cls == "Cropping2D":
        return {"cropping": o["cropping"], "dim_ordering": _dim_ordering(o)}
    if cls == "UpSampling1D":
        return {"length": o["size"] if isinstance(o["size"], int) else o["size"][0]}
    if cls == "UpSampling2D":
        check(o.get("interpolation", "nearest") == "nearest", f"{layer.name}: Keras 1 upsamples by repeating")
        return {"size": list(o["size"]), "dim_ordering": _dim_ordering(o)}
    if cls == "BatchNormalization":  # normalization.py: always gamma and beta; mode 0 is feature-wise
        check(o["center"] and o["scale"], f"{layer.name}: Keras 1's BatchNormalization has gamma and beta")
        return {"epsilon": o["epsilon"], "mode": 0, "axis": o["axis"], "gamma_regularizer": None,
                "beta_regularizer": None, "momentum": 0.99}
    if cls in ("LeakyReLU", "ELU"):
        return {"alpha": o["alpha"]}
    if cls == "ThresholdedReLU":
        return {"theta": o["theta"]}
    if cls == "PReLU":
        return {"init": "zero", "shared_axes": o.get("shared_axes")}
    if cls in KERAS1_MERGE_MODES:
        if cls in ("Add", "Multiply", "Average", "Maximum"):
            check(len({tuple(s) for s in layer.in_shapes}) == 1, f"{layer.name}: Keras 1 merges equal shapes")
        check(not o.get("normalize"), f"{layer.name}: Keras 1 has no normalized dot")
        axes = o.get("axes", -1)
        return {"mode": KERAS1_MERGE_MODES[cls], "mode_type": "raw", "concat_axis": o.get("axis", -1),
                "dot_axes": axes if isinstance(axes, list) else [axes, axes], "output_shape": None,
                "output_shape_type": "raw", "output_mask": None, "output_mask_type": "raw", "arguments": {}}
    raise FixtureError(f"Keras 1 config: {cls} is not written")


def keras1_model_config(model):
    """Keras 1.2.2 model.get_config(): Sequential a bare list of layers (models.py Sequential.get_config),
    Model a Container config with [layer, node, tensor] references (engine/topology.py)."""
    if model.kind == "Sequential":
        return {"class_name": "Sequential", "config": [
            {"class_name": keras1_class(layer), "config": keras1_layer_config(layer, layer.batch_shape if i == 0 else None)}
            for i, layer in enumerate(model.layers)]}
    layers = []
    for layer in model.layers:
        if layer.cls == "InputLayer":
            cfg = {"batch_input_shape": layer.batch_shape, "input_dtype": "float32", "sparse": False,
                   "name": layer.name}
            nodes = []
        else:
            cfg = keras1_layer_config(layer)
            nodes = [[[n, i, t] for n, i, t in layer.inbound]]
        layers.append({"name": layer.name, "class_name": keras1_class(layer), "config": cfg, "inbound_nodes": nodes})
    return {"class_name": "Model", "config": {
        "name": model.name, "layers": layers,
        "input_layers": [[x.name, 0, 0] for x in model.input_layers()],
        "output_layers": [list(o) for o in model.outputs]}}


def keras1_arrays(cls, name, arrays, consume_less, backend=None):
    """[(weight name, array)] of one Keras 1 layer named `name` from its Keras 2 arrays."""
    if cls == "ConvLSTM2D":  # per gate as LSTM, on the last axis; Theano: both kernels flipped
        kernel, recurrent, bias = arrays
        if backend == "theano":
            kernel, recurrent = keras1_flip(kernel), keras1_flip(recurrent)
        f = recurrent.shape[-2]
        out = []
        for gate, pos in KERAS1_GATES["LSTM"]:
            cols = slice(pos * f, (pos + 1) * f)
            out += [(f"{name}_W_{gate}", np.ascontiguousarray(kernel[..., cols])),
                    (f"{name}_U_{gate}", np.ascontiguousarray(recurrent[..., cols])),
                    (f"{name}_b_{gate}", np.ascontiguousarray(bias[cols]))]
        return out
    if cls == "Conv2DTranspose":  # Keras 1 stored a convolution's kernel: (rows, cols, input channels, nb_filter)
        check(backend != "theano", f"{name}: a Theano file's Deconvolution2D is not written (strata refuses it)")
        arrays = [np.ascontiguousarray(np.transpose(arrays[0], (0, 1, 3, 2)))] + list(arrays[1:])
        return [(f"{name}_{s}", a) for s, a in zip(["W", "b"], arrays)]
    if cls == "SeparableConv2D":  # Keras 2's layout; TensorFlow only
        check(backend != "theano", f"{name}: Keras 1's SeparableConvolution2D needs the TensorFlow backend")
        return [(f"{name}_{s}", a) for s, a in zip(["depthwise_kernel", "pointwise_kernel", "b"], arrays)]
    if cls in KERAS1_GATES and consume_less != "gpu":
        kernel, recurrent, bias = arrays
        u = recurrent.shape[0]
        out = []
        for gate, pos in KERAS1_GATES[cls]:
            cols = slice(pos * u, (pos + 1) * u)
            out += [(f"{name}_W_{gate}", np.ascontiguousarray(kernel[:, cols])),
                    (f"{name}_U_{gate}", np.ascontiguousarray(recurrent[:, cols])),
                    (f"{name}_b_{gate}", np.ascontiguousarray(bias[cols]))]
        return out
    if cls in ("Conv1D", "Conv2D", "Conv3D"):
        # Keras 1.2.2 Convolution1D kernel: (filter_length, 1, input_dim, nb_filter); 'tf' 2D/3D: Keras 2's.
        kernel = arrays[0][:, None, :, :] if cls == "Conv1D" else arrays[0]
        if backend == "theano":  # Theano convolves: its kernel is TensorFlow's flipped on the spatial axes
            kernel = keras1_flip(kernel)
        arrays = [np.ascontiguousarray(kernel)] + list(arrays[1:])
    short = {"Dense": ["W", "b"], "Embedding": ["W"], "Conv1D": ["W", "b"], "Conv2D": ["W", "b"], "Conv3D": ["W", "b"],
             "BatchNormalization": ["gamma", "beta", "running_mean", "running_std"],
             "PReLU": ["alphas"]}.get(cls, ["W", "U", "b"])  # LSTM/GRU "gpu", SimpleRNN
    check(len(arrays) <= len(short), f"{name}: {cls} has {len(arrays)} weights")
    return [(f"{name}_{s}", a) for s, a in zip(short, arrays)]


def keras1_flip(kernel):
    """Keras 2's conv_utils.convert_kernel: reverses every axis but the last two (in, out channels)."""
    return np.ascontiguousarray(kernel[tuple([slice(None, None, -1)] * (kernel.ndim - 2) + [slice(None)] * 2)])


def keras1_weights(layer, backend):
    """The layer's weights as Keras 1 saved them (layer.weights order, variable names `<layer>_W` ...;
    the TensorFlow backend's variables are named `<name>:0`, Theano's `<name>`)."""
    arrays = [a for _, a in layer.weights]
    if layer.cls == "TimeDistributed":
        out = keras1_arrays(layer.inner.cls, layer.inner.name, arrays, layer.inner.opts.get("consume_less"))
    elif layer.cls == "Bidirectional":
        half = len(arrays) // 2
        out = (keras1_arrays(layer.inner.cls, layer.inner.name, arrays[:half], layer.inner.opts.get("consume_less"))
               + keras1_arrays(layer.backward.cls, layer.backward.name, arrays[half:],
                               layer.backward.opts.get("consume_less")))
    else:
        out = keras1_arrays(layer.cls, layer.name, arrays, layer.opts.get("consume_less"), backend)
    suffix = ":0" if backend == "tensorflow" else ""
    return [(n + suffix, a) for n, a in out]


def keras2_from_keras1(cls, stored, backend=None):
    """Keras 2's preprocess_weights_for_loading for one Keras 1 layer (KERAS2_FROM_KERAS1; Conv1D: weights[0][:, 0]),
    and for a Theano file's convolution kernel convert_kernel, which Keras 2 applies when the file records the
    Theano backend (a Keras 1 file records none: strata reads it from the weight names)."""
    if cls in KERAS2_FROM_KERAS1 and len(stored) == 3 * len(KERAS1_GATES[cls]):
        return [np.concatenate([stored[i] for i in idx], axis=-1) for idx in KERAS2_FROM_KERAS1[cls]]
    if cls == "ConvLSTM2D":  # as LSTM ([0, 6, 3, 9], ...), then convert_kernel on both kernels for Theano
        out = [np.concatenate([stored[i] for i in idx], axis=-1) for idx in KERAS2_FROM_KERAS1["LSTM"]]
        if backend == "theano":
            out[0], out[1] = keras1_flip(out[0]), keras1_flip(out[1])
        return out
    stored = list(stored)
    if cls == "Conv2DTranspose":  # np.transpose(weights[0], (0, 1, 3, 2))
        stored[0] = np.ascontiguousarray(np.transpose(stored[0], (0, 1, 3, 2)))
    if cls in ("Conv1D", "Conv2D", "Conv3D"):
        kernel = keras1_flip(stored[0]) if backend == "theano" else stored[0]
        stored[0] = np.ascontiguousarray(kernel[:, 0, :, :] if cls == "Conv1D" else kernel)
    return stored


def write_keras1_weights_group(group, model, backend):
    """Keras 1.2.2 Container.save_weights_to_hdf5_group: layer_names (model.layers; a Sequential's
    flattened_layers, no InputLayer), per layer weight_names and datasets, in layer order. Lists of bytes
    become fixed-length strings (h5py 2 era); no keras_version or backend attribute on the group."""
    h5_bytes_list_attr(group, "layer_names", [x.name.encode("utf8") for x in model.layers], True)
    for layer in model.layers:
        g = h5_group(group, layer.name)
        pairs = keras1_weights(layer, backend) if layer.cls != "InputLayer" else []
        h5_bytes_list_attr(g, "weight_names", [n.encode("utf8") for n, _ in pairs], True)
        for name, arr in pairs:
            h5_dataset(g, name, arr)


def write_keras1_h5(model, path, backend):
    """Keras 1.2.2 models.py save_model: keras_version and model_config as bytes, model_weights."""
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = KERAS1_VERSION.encode("utf8")
        f.attrs["model_config"] = json.dumps(keras1_model_config(model)).encode("utf8")
        write_keras1_weights_group(h5_group(f, "model_weights"), model, backend)


def keras1_merge_sequential(model):
    """A Functional model of branches merged once -- each merge input a chain of one-input layers from its own
    InputLayer, the merge followed by a chain to the one output -- as Keras 1's Sequential([Merge([branch
    Sequentials], mode), ...]): (model config, the layers in Sequential.flattened_layers order, which save_weights
    writes: every branch's layers, then the layers after the Merge; the Merge itself is not listed)."""
    check(model.kind == "Functional", f"{model.name}: a Merge of branches is built from a Functional model")
    merges = [x for x in model.layers if x.cls in KERAS1_MERGE_MODES]
    check(len(merges) == 1, f"{model.name}: needs exactly one merge layer")
    merge = merges[0]
    by_name = {x.name: x for x in model.layers}
    branches = []
    for name, _, _ in merge.inbound:
        chain = []
        while by_name[name].cls != "InputLayer":
            layer = by_name[name]
            check(len(layer.inbound) == 1, f"{layer.name}: a branch layer takes one input")
            chain.insert(0, layer)
            name = layer.inbound[0][0]
        check(chain, f"{model.name}: a merged branch has no layer")
        chain[0] = copy.copy(chain[0])
        chain[0].batch_shape = by_name[name].batch_shape
        branches.append(chain)
    rest, prev = [], merge.name
    for layer in model.layers:
        if layer.inbound and layer.inbound[0][0] == prev and layer is not merge:
            check(len(layer.inbound) == 1, f"{layer.name}: a layer after the Merge takes one input")
            rest.append(layer)
            prev = layer.name
    check([list(o) for o in model.outputs] == [[prev, 0, 0]], f"{model.name}: the chain after the Merge is the output")
    merge_cfg = keras1_layer_config(merge)
    merge_cfg["layers"] = [{"class_name": "Sequential", "config": [
        {"class_name": keras1_class(x), "config": keras1_layer_config(x, x.batch_shape if i == 0 else None)}
        for i, x in enumerate(chain)]} for chain in branches]
    config = {"class_name": "Sequential", "config": [{"class_name": "Merge", "config": merge_cfg}] + [
        {"class_name": keras1_class(x), "config": keras1_layer_config(x)} for x in rest]}
    flat = Model("Sequential", model.name)
    flat.layers = [x for chain in branches for x in chain] + rest
    return config, flat


def write_keras1_merge_h5(model, path, backend):
    """save_model of keras1_merge_sequential(model)."""
    config, flat = keras1_merge_sequential(model)
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = KERAS1_VERSION.encode("utf8")
        f.attrs["model_config"] = json.dumps(config).encode("utf8")
        write_keras1_weights_group(h5_group(f, "model_weights"), flat, backend)
    with h5py.File(path, "r") as f:
        verify_keras1_group(f["model_weights"], flat, str(path), backend)
        written = json.loads(f.attrs["model_config"])
    check(written["config"][0]["class_name"] == "Merge" and len(written["config"][0]["config"]["layers"]) >= 2,
          f"{path}: the first layer is a Merge of branches")


def write_keras1_h5_weights(model, weights_path, json_path, backend):
    """Keras 1.2.2 save_weights (the group is the file root, no version recorded) + to_json
    (_updated_config: class_name, config, keras_version)."""
    with h5py.File(weights_path, "w") as f:
        write_keras1_weights_group(f, model, backend)
    to_json = keras1_model_config(model)
    to_json["keras_version"] = KERAS1_VERSION
    json_path.write_text(json.dumps(to_json))


def _keras1_core(layer):
    return layer.inner if layer.cls in ("TimeDistributed", "Bidirectional") else layer


def verify_keras1_group(group, model, what, backend):
    layer_names = _decode_list(group.attrs["layer_names"])
    check(h5_attr_kind(group, "layer_names") == ("fixed", "ascii"), f"{what}: layer_names type")
    check(layer_names == [x.name for x in model.layers], f"{what}: layer_names {layer_names}")
    check("keras_version" not in group.attrs and "backend" not in group.attrs, f"{what}: Keras 1 records no version")
    want = expected_weights(model)
    for layer in model.layers:
        names = _decode_list(group[layer.name].attrs["weight_names"])
        check(all(n.endswith(":0") == (backend == "tensorflow") for n in names), f"{what}: weight names {names}")
        stored = [group[layer.name][n][()] for n in names]
        for n, a in zip(names, stored):
            check(a.dtype == np.float32, f"{what}: {n} dtype")
        if layer.cls == "InputLayer":
            check(not stored, f"{what}: {layer.name} has weights")
            continue
        core = _keras1_core(layer)
        owners = [core.name] + ([layer.backward.name] if layer.backward is not None else [])
        check(all(any(n.startswith(owner + "_") for owner in owners) for n in names),
              f"{what}: {layer.name} weight names {names}")
        halves = [stored[:len(stored) // 2], stored[len(stored) // 2:]] if layer.cls == "Bidirectional" else [stored]
        got = [a for half in halves for a in keras2_from_keras1(core.cls, half, backend)]
        arrays = want[layer.name]
        check(len(got) == len(arrays), f"{what}: {layer.name} converts to {len(got)} arrays, want {len(arrays)}")
        for i, (g, w) in enumerate(zip(got, arrays)):
            same_array(g, w, f"{what}: {layer.name} weight {i} after Keras 2's conversion")


def verify_keras1_config(config, model, what):
    check(config["class_name"] in ("Sequential", "Model"), f"{what}: class_name")
    found = {}
    walk_layer_configs(config, found)
    for layer in model.weight_layers():
        cls, cfg = found[layer.name]
        check(cls == keras1_class(layer), f"{what}: {layer.name} class")
        core = _keras1_core(layer)
        if layer.cls in ("TimeDistributed", "Bidirectional"):
            cfg = cfg["layer"]["config"]
        o = core.opts
        for key, k1 in (("units", "output_dim"), ("activation", "activation"), ("recurrent_activation",
                        "inner_activation"), ("use_bias", "bias"), ("rate", "p")):
            if key in o and not (key == "use_bias" and core.cls in RNN_CLASSES + ("ConvLSTM2D",)):
                check(cfg.get(k1) == o[key], f"{what}: {core.name}.{k1} = {cfg.get(k1)!r}, expected {o[key]!r}")
        check(not any(k in cfg for k in ("units", "use_bias", "recurrent_activation", "rate", "kernel_initializer")),
              f"{what}: {core.name} has Keras 2 keys")


def verify_keras1_h5(path, model, backend):
    with h5py.File(path, "r") as f:
        check(set(f.attrs.keys()) == {"keras_version", "model_config"}, f"{path}: root attributes")
        check(h5_attr_kind(f, "keras_version") == ("vlen", "ascii"), f"{path}: keras_version type")
        check(f.attrs["keras_version"] == KERAS1_VERSION, f"{path}: keras_version")
        verify_keras1_config(json.loads(f.attrs["model_config"]), model, str(path))
        verify_keras1_group(f["model_weights"], model, str(path), backend)


def verify_keras1_h5_weights(weights_path, json_path, model, backend):
    config = json.loads(json_path.read_text())
    check(config["keras_version"] == KERAS1_VERSION and "backend" not in config, f"{json_path}: version")
    verify_keras1_config(config, model, str(json_path))
    with h5py.File(weights_path, "r") as f:
        check(not f.attrs.get("keras_version") and "model_config" not in f.attrs, f"{weights_path}: weights only")
        verify_keras1_group(f, model, str(weights_path), backend)


# ---------------------------------------------------------------------------------------------
# The Keras 3 expected outputs of the "differs" case (Dense only, computed here in numpy)
# ---------------------------------------------------------------------------------------------
def keras3_dense_outputs(model, fixture):
    check(model.kind == "Sequential" and len(model.layers) == 1 and model.layers[0].cls == "Dense",
          "the Keras 3 outputs are computed for a single Dense only")
    layer = model.layers[0]
    check(layer.opts["activation"] == "hard_sigmoid", "expected a hard_sigmoid Dense")
    x_spec = fixture["inputs"][0]
    x = np.asarray(x_spec["data"], dtype=np.float32).astype(np.float64).reshape(x_spec["shape"])
    w = dict(layer.weights)
    z = x @ w["kernel"].astype(np.float64)
    if "bias" in w:
        z = z + w["bias"].astype(np.float64)
    y = np.clip(z / 6.0 + 0.5, 0.0, 1.0).astype(np.float32)
    want = np.asarray(fixture["outputs"][0]["data"], dtype=np.float64).reshape(y.shape)
    diff = float(np.max(np.abs(y.astype(np.float64) - want)))
    check(diff > 1e-2, f"Keras 3 hard_sigmoid output does not clearly differ (max diff {diff})")
    data = [float(repr(v)) for v in y.reshape(-1)]
    return {
        "source": None,
        "formula": "hard_sigmoid(x) = clip(x / 6 + 0.5, 0, 1) (Keras 3); tfjs/Keras 2: clip(0.2 x + 0.5, 0, 1)",
        "computed": "numpy float64 from the float32 inputs and weights, rounded to float32",
        "max_abs_diff_vs_tfjs_outputs": diff,
        "outputs": [{"label": fixture["outputs"][0]["label"], "shape": list(y.shape), "data": data}],
    }


# ---------------------------------------------------------------------------------------------
# A model with a user's custom class (index.json "custom")
# ---------------------------------------------------------------------------------------------
# The user's Python class, as the model was built in Keras 3.6 (Keras is not used here):
#
#     @keras.saving.register_keras_serializable(package="strata_example")
#     class Scale(keras.layers.Layer):
#         def __init__(self, axis=-1, **kwargs):
#             super().__init__(**kwargs)
#             self.axis = axis
#         def build(self, input_shape):
#             self.gamma = self.add_weight(shape=(input_shape[self.axis],), initializer="ones", name="gamma")
#         def call(self, x):
#             return x * self.gamma
#         def get_config(self):
#             return {**super().get_config(), "axis": self.axis}
#
#     model = keras.Sequential([keras.Input((6, 4)), keras.layers.Dense(5, activation="relu"), Scale(),
#                               keras.layers.Dense(2)], name="custom_scale")
#
# serialization_lib.serialize_keras_object finds no keras.* export for Scale, so
# serialize_with_public_class writes {"module": Scale.__module__, "class_name": "Scale", "config":
# get_config(), "registered_name": "strata_example>Scale"} (object_registration's "package>name"),
# then build_config. Layer.get_config gives name, trainable, dtype; Scale adds axis. saving_lib
# keeps gamma at layers/scale/vars/0 (snake_case of the Python class name, as for any layer).
CUSTOM_CLASSES = {
    "Scale": {"module": "strata_example.layers", "registered_name": "strata_example>Scale"},
}
CUSTOM_STEM = "custom_scale"


def exact_values(shape, seed, denominator, offset=0):
    """Deterministic inputs and weights without a random generator: integers in [-8 + offset,
    8 + offset] over a power of two. Every product and sum in the custom model is then exact in
    float32 and float64, so the numpy reference is the exact result, whatever order strata sums in."""
    n = int(np.prod(shape))
    ints = [hashlib.sha256(f"{seed}:{i}".encode()).digest()[0] % 17 - 8 + offset for i in range(n)]
    return (np.asarray(ints, dtype=np.float64) / denominator).astype(np.float32).reshape(shape)


def custom_scale_model():
    """Sequential Input((6, 4)) -> Dense(5, relu) -> Scale (custom, gamma (5,)) -> Dense(2)."""
    model = Model("Sequential", CUSTOM_STEM)
    dense = Layer("dense", "Dense")
    dense.opts = {"units": 5, "activation": "relu", "use_bias": True}
    dense.batch_shape = [None, 6, 4]
    dense.weights = [("kernel", exact_values((4, 5), 5, 8)), ("bias", exact_values((5,), 3, 8, offset=2))]
    scale = Layer("scale", "Scale")
    scale.opts = {"axis": -1}
    scale.weights = [("gamma", exact_values((5,), 12, 8, offset=4))]
    dense_1 = Layer("dense_1", "Dense")
    dense_1.opts = {"units": 2, "activation": "linear", "use_bias": True}
    dense_1.weights = [("kernel", exact_values((5, 2), 13, 8)), ("bias", exact_values((2,), 14, 8))]
    model.layers = [dense, scale, dense_1]
    infer_shapes(model)
    return model


def custom_scale_outputs(model):
    """The model's input and its expected output, computed here in numpy: an independent reference,
    in the layout of a reference fixture's "inputs" / "outputs"."""
    w = {layer.name: dict(layer.weights) for layer in model.layers}
    x = exact_values((2, 6, 4), 1, 8)

    def forward(dtype):
        h = x.astype(dtype) @ w["dense"]["kernel"].astype(dtype) + w["dense"]["bias"].astype(dtype)
        h = np.maximum(h, 0)  # relu
        s = h * w["scale"]["gamma"].astype(dtype)  # Scale.call: x * gamma on the last axis
        return h, s @ w["dense_1"]["kernel"].astype(dtype) + w["dense_1"]["bias"].astype(dtype)

    h, y = forward(np.float64)
    _, y32 = forward(np.float32)
    check(np.array_equal(y32.astype(np.float64), y), "custom_scale: float32 and float64 results differ (not exact)")
    check(np.count_nonzero(h) >= h.size // 2, "custom_scale: relu zeroes most of the hidden values")
    check(len(set(w["scale"]["gamma"].tolist())) == 5 and not np.any(w["scale"]["gamma"] == 1),
          "custom_scale: gamma must hold 5 distinct values other than 1")
    check(np.max(np.abs(y)) > 0.5, "custom_scale: outputs too small to tell errors apart")
    return {
        "source": None,
        "formula": "y = Dense(2)(Scale(relu(Dense(5)(x)))), Scale(h) = h * gamma on the last axis",
        "computed": ("numpy float64 from the float32 inputs and weights; exact (every value is a small integer "
                     "over a power of two, and numpy's float32 result is the same)"),
        "inputs": [{"label": "input_layer", "shape": list(x.shape), "data": [float(v) for v in x.reshape(-1)]}],
        "outputs": [{"label": "dense_1", "shape": list(y.shape), "data": [float(v) for v in y.reshape(-1)]}],
    }


def verify_custom_keras(path, model):
    """verify_keras, plus the custom class's serialisation: module, registered_name, config keys."""
    verify_keras(path, model)
    with zipfile.ZipFile(path) as zf:
        config = json.loads(zf.read("config.json"))
    entries = [e for e in config["config"]["layers"] if e["class_name"] in CUSTOM_CLASSES]
    check(len(entries) == 1, f"{path}: expected one custom layer entry")
    entry = entries[0]
    want = CUSTOM_CLASSES[entry["class_name"]]
    check(entry["module"] == want["module"] and entry["registered_name"] == want["registered_name"],
          f"{path}: custom class module/registered_name")
    check(list(entry) == ["module", "class_name", "config", "registered_name", "build_config"],
          f"{path}: custom layer entry keys {list(entry)}")
    check(list(entry["config"]) == ["name", "trainable", "dtype", "axis"], f"{path}: Scale config keys")


def generate_custom(out, quiet=False):
    """Writes keras/custom_scale.keras and its expected outputs; returns the index "custom" entries."""
    model = custom_scale_model()
    file = f"keras/{CUSTOM_STEM}.keras"
    write_keras(model, out / file)
    verify_custom_keras(out / file, model)
    outputs_file = f"keras/{CUSTOM_STEM}.keras3_outputs.json"
    (out / outputs_file).write_text(json.dumps(custom_scale_outputs(model)))
    entry = {
        "name": f"keras/{CUSTOM_STEM}",
        "format": "keras",
        "file": file,
        "source": None,
        "keras_version": KERAS3_VERSION,
        "expect": "match",
        "classes": [{"class_name": cls, **spec} for cls, spec in CUSTOM_CLASSES.items()],
        "notes": ("Sequential Dense(5, relu) -> Scale (custom class registered as strata_example>Scale, axis -1, "
                  "weight gamma (5,) at layers/scale/vars/0, y = x * gamma) -> Dense(2) on [null, 6, 4]; loads "
                  "only after a C++ Scale is registered; keras3_outputs holds the input and the numpy outputs"),
        "keras3_outputs": outputs_file,
    }
    if not quiet:
        print(f"  {file:62s} {model.kind:10s} {KERAS3_VERSION:6s} custom")
    return [entry]


# ---------------------------------------------------------------------------------------------
# Attention, AdditiveAttention and keras-hub's position layers: .keras files of the numpy fixtures of
# tools/torch-reference/make_attention_dot_fixtures.py, whose model_configs already are Keras 3 Functional
# configs (call arguments such as use_causal_mask, return_attention_scores and start_index in the
# inbound nodes' kwargs; keras-hub classes with module keras_hub.src.layers.modeling.<file> and
# registered_name "keras_hub>Class"). config.json is that config; model.weights.h5 keeps each layer's
# arrays at layers/<key>/vars (key = snake_case(class), _1, _2, ... over Functional.layers, InputLayers
# included), a sublayer's at layers/<key>/<attribute>/vars (TokenAndPositionEmbedding: token_embedding,
# position_embedding; the fixture names them "<layer>/<attribute>/<weight>"), and Keras' scalar weights
# (Attention's scale, concat_score_weight; shape [1] in the fixture, as strata holds them) as
# shape () datasets.
# ---------------------------------------------------------------------------------------------
ATTENTION_KERAS_CASES = [
    "attention_dot_masks_scores",
    "attention_dot_causal_value_mask_scores",
    "attention_concat_scale_masks_scores",
    "additive_attention_scale_key_masks",
    "attention_embedding_masks",
    "keras_hub_position_embedding_start_index",
    "keras_hub_token_and_position_mask_attention",
    "keras_hub_sine_position_encoding",
    "keras_hub_rotary_embedding_linear",
]
ATTENTION_SCALARS = {"Attention": ("scale", "concat_score_weight")}


def attention_keras_weights(fixture):
    """{"layers/<key>[/<attribute>]": (layer name, [float32 arrays])} for a fixture's Functional model."""
    entries = fixture["model_config"]["config"]["layers"]
    by_name = {e["name"]: e for e in fixture["layers"]}
    groups = {}
    for key, entry in zip(k3_container_keys([e["class_name"] for e in entries]), entries):
        path = f"layers/{key}"
        groups[path] = (entry["name"], [])
        for w in by_name.get(entry["name"], {"weights": []})["weights"]:
            parts = w["name"].split("/")
            arr = _float32_array(w)
            if parts[-1] in ATTENTION_SCALARS.get(entry["class_name"], ()):
                check(arr.shape == (1,), f"{w['name']}: a Keras scalar must be [1] in the fixture")
                arr = arr.reshape(())
            sub = "/".join(parts[1:-1])
            where = f"{path}/{sub}" if sub else path
            groups.setdefault(where, (parts[-2] if sub else entry["name"], []))[1].append(arr)
    return groups


def write_attention_keras(fixture, path, weights=None):
    weights = weights or attention_keras_weights
    buf = io.BytesIO()
    with h5py.File(buf, "w") as h5:
        k3_vars(h5, "", fixture["model_config"]["config"]["name"])
        for where, (name, arrays) in weights(fixture).items():
            k3_vars(h5, where, name, arrays)
    metadata = json.dumps({"keras_version": KERAS3_VERSION, "date_saved": KERAS3_DATE_SAVED})
    path.write_bytes(keras_zip([("metadata.json", metadata.encode()),
                                ("config.json", json.dumps(fixture["model_config"]).encode()),
                                ("model.weights.h5", buf.getvalue())]))
    # Read back: every array at its path, bit for bit.
    with zipfile.ZipFile(path) as zf, h5py.File(io.BytesIO(zf.read("model.weights.h5")), "r") as h5:
        check(json.loads(zf.read("config.json")) == fixture["model_config"], f"{path}: config.json")
        for where, (name, arrays) in weights(fixture).items():
            group = h5[f"{where}/vars"]
            check(group.attrs["name"] == name and len(group) == len(arrays), f"{path}: {where}/vars")
            for i, arr in enumerate(arrays):
                same_array(group[str(i)][()], arr, f"{path}: {where}/vars/{i}")


# keras-hub's TransformerEncoder and TransformerDecoder: .keras files of the numpy fixtures of
# tools/torch-reference/make_transformer_fixtures.py (whose weight names already are keras-hub's saved
# paths, "<layer>/_self_attention_layer/query_dense/kernel"). Keras 3's saving_lib walks a layer's
# attributes (public names first, then the private ones; a sublayer reached twice is saved once):
# keras-hub keeps its sublayers in private attributes (_self_attention_layer, _self_attention_layer_norm,
# _cross_attention_layer, _feedforward_intermediate_dense, ...), so they are saved under those names; a
# MultiHeadAttention's projections under its public properties query_dense, ..., output_dense, its
# Softmax and Dropout under _softmax and _dropout_layer. Every saveable gets a vars group whose "name"
# attribute is the sublayer's name (self_attention_layer / self_attention for the decoder's
# CachedMultiHeadAttention, query, key, value, attention_output, ...), empty for the weightless ones.
TRANSFORMER_KERAS_CASES = [
    "transformer_encoder_post_norm",
    "transformer_encoder_pre_norm_gelu",
    "transformer_encoder_token_mask_two",
    "transformer_encoder_padding_attention_mask",
    "transformer_classifier",
    "transformer_decoder_causal",
    "transformer_decoder_cross_masks",
    "transformer_decoder_pre_norm_kwargs",
]
KERAS_HUB_SUBLAYER_NAMES = {"query_dense": "query", "key_dense": "key", "value_dense": "value",
                            "output_dense": "attention_output"}


def transformer_keras_weights(fixture):
    """attention_keras_weights with keras-hub's sublayer names and the weightless saveables' empty groups."""
    groups = {}
    classes = {e["name"]: e["class_name"] for e in fixture["model_config"]["config"]["layers"]}
    plain = attention_keras_weights(fixture)
    for where, (name, arrays) in plain.items():
        parts = where.split("/")
        layer_class = classes[plain["/".join(parts[:2])][0]]
        if len(parts) > 2 and layer_class in ("TransformerEncoder", "TransformerDecoder"):
            key_path = "/".join(parts[:2])  # layers/<key>/<attribute>[/<sub>]
            decoder = layer_class == "TransformerDecoder"
            for depth in range(3, len(parts) + 1):
                attr = parts[depth - 1]
                if attr in KERAS_HUB_SUBLAYER_NAMES:
                    sub_name = KERAS_HUB_SUBLAYER_NAMES[attr]
                elif attr in ("_self_attention_layer", "_cross_attention_layer"):
                    sub_name = attr[1:].replace("_layer", "") if decoder else attr[1:]
                else:
                    sub_name = attr.lstrip("_")
                prefix = "/".join(parts[:depth])
                if depth < len(parts):
                    groups.setdefault(prefix, (sub_name, []))
                    if attr in ("_self_attention_layer", "_cross_attention_layer"):
                        groups.setdefault(f"{prefix}/_softmax", ("softmax", []))
                        groups.setdefault(f"{prefix}/_dropout_layer", ("dropout", []))
                else:
                    name = sub_name
            for drop in ("_self_attention_dropout", "_feedforward_dropout") + (
                    ("_cross_attention_dropout",) if decoder and "_cross_attention_layer" in parts else ()):
                groups.setdefault(f"{key_path}/{drop}", (drop.lstrip("_"), []))
        groups[where] = (name, arrays)
    return groups


# tf.keras 2.15 .h5 files (save_model) of three of them and of two MultiHeadAttention fixtures of
# tools/torch-reference/make_attention_fixtures.py: the config in tf.keras' spelling (dtype
# "float32", no seed; a call's arguments as the fourth item of each inbound tensor reference, as
# Node.serialize writes them: its positional arguments after the first by their names, so that
# MultiHeadAttention's value is always a keyword, and tensors as [layer, node, index]; keras-nlp
# classes with the registered name as class_name, "keras_nlp>TokenAndPositionEmbedding"), weights
# under model_weights/<layer> in weight_names order ("attention/scale:0" a shape () dataset;
# "token_and_position_embedding/token_embedding/embeddings:0"; "mha/query/kernel:0", ...).
ATTENTION_H5_CASES = [
    "attention_dot/attention_dot_scale_causal_masks",
    "attention_dot/additive_attention_noscale_causal_scores",
    "attention_dot/keras_hub_token_and_position_mask_attention",
    "attention/mha_cross_key_value_dim_output_shape",
    "attention/mha_attention_mask_causal",
]
# tf.keras 2's call() arguments after the first, which Node.serialize names further positional ones by.
TF_CALL_ARGUMENTS = {"MultiHeadAttention": ("value", "key", "attention_mask")}


def tf_mha_config(cfg, shapes):
    """tf_keras MultiHeadAttention.get_config() of a built layer: value_dim defaults to key_dim,
    attention_axes are the built ones (every axis but batch, heads and features), and the shapes
    it was built from (query, key, value; key is value's without a key)."""
    query, value = shapes["query"], shapes["value"]
    key = shapes.get("key", value)
    out = {k: v for k, v in cfg.items() if k not in ("seed", "flash_attention")}
    out["value_dim"] = cfg["value_dim"] or cfg["key_dim"]
    if cfg["attention_axes"] is None:
        out["attention_axes"] = list(range(1, len(query) - 1))
    out.update({"query_shape": query, "key_shape": key, "value_shape": value, "softmax_robust_masking": False})
    return out


def attention_tf_config(fixture):
    mc = fixture["model_config"]["config"]
    layers = []
    shapes = {}  # an InputLayer's batch shape by name
    for e in mc["layers"]:
        cfg = dict(e["config"])
        cls = e["class_name"]
        if cls == "InputLayer":
            cfg = {"batch_input_shape": cfg["batch_shape"], "dtype": cfg["dtype"], "sparse": False, "ragged": False,
                   "name": cfg["name"]}
            shapes[e["name"]] = cfg["batch_input_shape"]
        else:
            cfg["dtype"] = "float32"
            cfg.pop("seed", None)
            if cls == "Embedding":
                cfg.update({"activity_regularizer": None, "input_length": None})
        if e.get("registered_name") and e["registered_name"] != cls:
            cls = e["registered_name"].replace("keras_hub>", "keras_nlp>")
        nodes = []
        for node in e["inbound_nodes"]:
            first, rest = node["args"][0], node["args"][1:]
            names = TF_CALL_ARGUMENTS.get(cls, ())
            check(len(rest) <= len(names), f"{e['name']}: positional arguments tf.keras cannot name")
            kwargs = dict(zip(names, rest))
            kwargs.update({k: v for k, v in node["kwargs"].items() if k not in ("mask", "training")})
            kwargs = {k: v["config"]["keras_history"] if _is_k3_tensor(v) else v for k, v in kwargs.items()}
            refs = first if isinstance(first, list) else [first]
            nodes.append([t["config"]["keras_history"] + [kwargs] for t in refs])
            if cls == "MultiHeadAttention":
                roles = {"query": refs[0]["config"]["keras_history"], **kwargs}
                cfg = tf_mha_config(cfg, {r: shapes[roles[r][0]] for r in ("query", "value", "key") if r in roles})
        layers.append({"class_name": cls, "config": cfg, "name": e["name"], "inbound_nodes": nodes})
    return {"class_name": "Functional", "config": {"name": mc["name"], "trainable": True, "layers": layers,
                                                   "input_layers": mc["input_layers"],
                                                   "output_layers": mc["output_layers"]}}


def write_attention_h5(fixture, path):
    config = attention_tf_config(fixture)
    names = [e["name"] for e in config["config"]["layers"]]
    by_name = {e["name"]: e for e in fixture["layers"]}
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = TF_KERAS_VERSION
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(config).encode("utf8")
        group = h5_group(f, "model_weights")
        h5_bytes_list_attr(group, "layer_names", [n.encode("utf8") for n in names])
        group.attrs["backend"] = b"tensorflow"
        group.attrs["keras_version"] = TF_KERAS_VERSION.encode("utf8")
        for name in sorted(names):
            g = h5_group(group, name)
            weights = by_name.get(name, {"weights": []})["weights"]
            arrays = []
            for w in weights:
                arr = _float32_array(w)
                if w["name"].split("/")[-1] in ("scale", "concat_score_weight") and by_name[name]["class_name"] == "Attention":
                    arr = arr.reshape(())
                arrays.append((w["name"] + ":0", arr))
            h5_bytes_list_attr(g, "weight_names", [n.encode("utf8") for n, _ in arrays])
            for n, arr in arrays:
                h5_dataset(g, n, arr)
        g = h5_group(group, "top_level_model_weights")
        h5_bytes_list_attr(g, "weight_names", [])
    # Read back: the config and every array, bit for bit.
    with h5py.File(path, "r") as f:
        check(json.loads(f.attrs["model_config"]) == config, f"{path}: model_config")
        for name, entry in by_name.items():
            for w in entry["weights"]:
                got = f[f"model_weights/{name}/{w['name']}:0"][()]
                same_array(np.asarray(got).reshape(-1), _float32_array(w).reshape(-1), f"{path}: {w['name']}")


def generate_attention(out, add):
    class _Kind:
        kind = "Functional"
    for case in ATTENTION_KERAS_CASES:
        source = f"torch:attention_dot/{case}"
        fixture = json.loads((TORCH_DIR / "attention_dot" / f"{case}.json").read_text())
        file = f"keras/{source_stem(source)}.keras"
        write_attention_keras(fixture, out / file)
        add(f"keras/{source_stem(source)}", "keras", file, source, KERAS3_VERSION, "match", fixture["notes"].split(". ")[0],
            _Kind())
    for case in TRANSFORMER_KERAS_CASES:
        source = f"torch:transformer/{case}"
        fixture = json.loads((TORCH_DIR / "transformer" / f"{case}.json").read_text())
        file = f"keras/{source_stem(source)}.keras"
        write_attention_keras(fixture, out / file, transformer_keras_weights)
        add(f"keras/{source_stem(source)}", "keras", file, source, KERAS3_VERSION, "match", fixture["notes"].split(". ")[0],
            _Kind())
    for case in ATTENTION_H5_CASES:
        source = f"torch:{case}"
        fixture = json.loads((TORCH_DIR / f"{case}.json").read_text())
        file = f"h5/{source_stem(source)}.h5"
        write_attention_h5(fixture, out / file)
        add(f"h5/{source_stem(source)}", "h5", file, source, TF_KERAS_VERSION, "match",
            fixture["notes"].split(". ")[0] + " (tf.keras 2.15 spelling)", _Kind())


# ---------------------------------------------------------------------------------------------
# Self-check: reopen each file and read it back the way a loader would
# ---------------------------------------------------------------------------------------------
def expected_weights(model):
    return {layer.name: [a for _, a in layer.weights] for layer in model.weight_layers()}


def same_array(got, want, what):
    got = np.asarray(got)
    check(got.dtype == np.float32, f"{what}: dtype {got.dtype}, expected float32")
    check(got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}")
    check(np.array_equal(got.view(np.uint32), want.view(np.uint32)), f"{what}: values differ")


def walk_layer_configs(node, found):
    """Collects {name: (class_name, config)} for every serialized layer dict in a model config."""
    if isinstance(node, dict):
        if (node.get("class_name") not in (None, "Sequential", "Functional", "Model", "__keras_tensor__", "DTypePolicy")
                and isinstance(node.get("config"), dict) and "name" in node["config"]):
            cfg = node["config"]
            found[cfg["name"]] = (node["class_name"], cfg)
        for value in node.values():
            walk_layer_configs(value, found)
    elif isinstance(node, list):
        for value in node:
            walk_layer_configs(value, found)


def check_config_layers(config, model, what, keras3):
    found = {}
    walk_layer_configs(config, found)
    for layer in model.weight_layers():
        items = [layer] + [x for x in (layer.inner, layer.backward) if x is not None]
        if layer.cls == "Bidirectional" and not keras3:  # tf.keras writes the wrapped layer under its own name
            inner = copy.copy(layer.inner)
            inner.name = _strip(inner.name, "forward_")
            items = [layer, inner]
        for item in items:
            check(item.name in found, f"{what}: layer {item.name} missing from the config")
            cls, cfg = found[item.name]
            check(cls == item.cls, f"{what}: {item.name} is {cls}, expected {item.cls}")
            opts = item.opts
            if is_generic(item.cls):
                opts = _generic_config(item, "k3" if keras3 else "tf")
            for key, value in opts.items():
                if key in ("activation", "recurrent_activation") and keras3:
                    value = k3_activation(value)
                check(cfg.get(key) == value, f"{what}: {item.name}.{key} = {cfg.get(key)!r}, expected {value!r}")


def verify_keras(path, model):
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        check([i.filename for i in infos] == ["metadata.json", "config.json", "model.weights.h5"],
              f"{path}: members {[i.filename for i in infos]}")
        check(all(i.compress_type == zipfile.ZIP_STORED for i in infos), f"{path}: members must be stored")
        metadata = json.loads(zf.read("metadata.json"))
        config = json.loads(zf.read("config.json"))
        weights = zf.read("model.weights.h5")
    check(metadata["keras_version"] == KERAS3_VERSION, f"{path}: keras_version")
    check_config_layers(config, model, str(path), keras3=True)
    # Container keys from config.json alone, as a loader computes them.
    layer_entries = config["config"]["layers"]
    if config["class_name"] == "Sequential":
        check(layer_entries[0]["class_name"] == "InputLayer", f"{path}: Sequential without an InputLayer")
        layer_entries = layer_entries[1:]
    keys = k3_container_keys([e["class_name"] for e in layer_entries])
    want = expected_weights(model)
    with h5py.File(io.BytesIO(weights), "r") as h5:
        check(len(h5["vars"]) == 0 and h5["vars"].attrs["name"] == model.name, f"{path}: root vars")
        check(set(h5["layers"].keys()) == set(keys), f"{path}: layer keys {sorted(h5['layers'].keys())} vs {keys}")
        for key, entry in zip(keys, layer_entries):
            cls = entry["class_name"]
            cfg = entry["config"]
            base = h5["layers"][key]
            check(base["vars"].attrs["name"] == cfg["name"], f"{path}: {key}/vars name attr")
            if cls == "InputLayer":
                check(len(base["vars"]) == 0, f"{path}: {key} has variables")
                continue
            if cls == "TimeDistributed":
                check(len(base["vars"]) == 0, f"{path}: {key}/vars not empty")
                inner_cfg = cfg["layer"]
                base = base["layer"]
                check(base["vars"].attrs["name"] == inner_cfg["config"]["name"], f"{path}: {key}/layer/vars name")
                cls = inner_cfg["class_name"]
            arrays = want[cfg["name"]]
            groups = [(base, cls, arrays)]
            if cls == "Bidirectional":
                check(len(base["vars"]) == 0, f"{path}: {key} Bidirectional vars not empty")
                half = len(arrays) // 2
                cls = cfg["layer"]["class_name"]
                groups = [(base["forward_layer"], cls, arrays[:half]), (base["backward_layer"], cls, arrays[half:])]
                check(base["forward_layer"]["vars"].attrs["name"] == cfg["layer"]["config"]["name"], f"{path}: forward")
                check(base["backward_layer"]["vars"].attrs["name"] == cfg["backward_layer"]["config"]["name"],
                      f"{path}: backward")
            if cls in ATTENTION_CLASSES:  # the four projections' sublayers
                prefix = "_" if cls == "GroupedQueryAttention" else ""
                holders = [(prefix + "query_dense", "query"), (prefix + "key_dense", "key"),
                           (prefix + "value_dense", "value"), (prefix + "output_dense", "attention_output")]
            else:
                holders = nested_weight_holders(cfg) if is_generic(entry["class_name"]) else []
            if holders:  # weights at the nested layers' paths, read from config.json
                check(len(base["vars"]) == 0, f"{path}: {key} vars not empty")
                groups = []
                at = 0
                for sub, name in holders:
                    check(base[sub]["vars"].attrs["name"] == name, f"{path}: {key}/{sub} vars name")
                    n = len(base[sub]["vars"])
                    groups.append((base[sub], "nested", arrays[at:at + n]))
                    at += n
                check(at == len(arrays), f"{path}: {key} nested vars hold {at} arrays, expected {len(arrays)}")
            for group, group_cls, group_arrays in groups:
                if group_cls in CELL_NAMES:
                    check(len(group["vars"]) == 0, f"{path}: {key} {group_cls} vars not empty")
                    group = group["cell"]
                    check(group["vars"].attrs["name"] == CELL_NAMES[group_cls], f"{path}: {key} cell vars name")
                check(sorted(group["vars"].keys()) == [str(i) for i in range(len(group_arrays))],
                      f"{path}: {key} var keys")
                for i, arr in enumerate(group_arrays):
                    same_array(group["vars"][str(i)][()], arr, f"{path}: {key} var {i}")


def _decode_list(values):
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def verify_legacy_group(group, model, what, flavour):
    list_kind = ("fixed" if flavour == "old" else "vlen", "ascii")
    check(h5_attr_kind(group, "layer_names") == list_kind, f"{what}: layer_names type")
    layer_names = _decode_list(group.attrs["layer_names"])
    check(layer_names == [x.name for x in model_layers_for_h5(model)], f"{what}: layer_names {layer_names}")
    for key in ("backend", "keras_version"):  # written as bytes: variable-length ASCII
        check(h5_attr_kind(group, key) == ("vlen", "ascii"), f"{what}: {key} type")
    want = expected_weights(model)
    for name in layer_names:
        if want.get(name):
            check(h5_attr_kind(group[name], "weight_names") == list_kind, f"{what}: {name} weight_names type")
        else:  # np.asarray([]): an empty float64 array
            check(h5_attr_kind(group[name], "weight_names") == ("other", None), f"{what}: {name} weight_names")
        weight_names = _decode_list(group[name].attrs["weight_names"])
        arrays = want.get(name, [])
        check(len(weight_names) == len(arrays), f"{what}: {name} weight_names {weight_names}")
        for wname, arr in zip(weight_names, arrays):
            check(wname.endswith(":0") == (flavour == "tf"), f"{what}: weight name {wname}")
            same_array(group[name][wname][()], arr, f"{what}: {name}/{wname}")


def verify_h5(path, model, flavour):
    with h5py.File(path, "r") as f:
        # str attributes are variable-length UTF-8, bytes ones variable-length ASCII (h5py >= 2.x)
        want_kind = ("vlen", "utf8") if flavour == "tf" else ("vlen", "ascii")
        version = TF_KERAS_VERSION if flavour == "tf" else OLD_KERAS_VERSION
        for key in ("keras_version", "backend"):
            check(h5_attr_kind(f, key) == want_kind, f"{path}: {key} type")
        check(f.attrs["keras_version"] == version, f"{path}: keras_version")
        check(h5_attr_kind(f, "model_config") == ("vlen", "ascii"), f"{path}: model_config type")
        config = json.loads(f.attrs["model_config"])
        check_config_layers(config, model, str(path), keras3=False)
        verify_legacy_group(f["model_weights"], model, str(path), flavour)


def verify_h5_weights(weights_path, json_path, model):
    config = json.loads(json_path.read_text())
    check(config["keras_version"] == TF_KERAS_VERSION and config["backend"] == "tensorflow", f"{json_path}: version")
    check_config_layers(config, model, str(json_path), keras3=False)
    with h5py.File(weights_path, "r") as f:
        check("model_weights" not in f and "model_config" not in f.attrs, f"{weights_path}: not a weights-only file")
        verify_legacy_group(f, model, str(weights_path), "tf")


# ---------------------------------------------------------------------------------------------
# Broken files (bad/): each is one of the valid files above with exactly one thing changed
# ---------------------------------------------------------------------------------------------
BAD_DIR = "bad"
ABSURD_DIM = 2**30  # a dataset declared (2**30, 2**30) float32 (4 EiB) with no chunk written
ABSURD_BATCH_DIM = 2**40  # the largest dimension a config may declare for strata
BAD_ERRORS = ("io_error", "unsupported_error", "model_error", "load_error")  # "load_error": any of them


def keras_members(path):
    with zipfile.ZipFile(path) as zf:
        return [(i.filename, zf.read(i.filename)) for i in zf.infolist()]


def h5_edit(image, edit):
    """`edit(f)` on an HDF5 image opened read-write; returns the new bytes. Objects are deleted
    before anything is created in their place (h5py's attribute overwrite renames through a random
    temporary name). HDF5 only gives back freed space at the end of the file, so a deleted object's
    bytes may stay in the file, unreferenced; the output is still the same on every run."""
    buf = io.BytesIO(image)
    with h5py.File(buf, "r+") as f:
        edit(f)
    return buf.getvalue()


def h5_replace_dataset(f, path, **kwargs):
    head, _, leaf = path.rpartition("/")
    group = f[head] if head else f
    del group[leaf]
    return group.create_dataset(leaf, track_times=False, **kwargs)


def h5_replace_names(group, attr, items):
    kind = h5_attr_kind(group, attr)
    del group.attrs[attr]
    h5_bytes_list_attr(group, attr, items, fixed_length=kind[0] == "fixed")
    check(h5_attr_kind(group, attr) == kind, f"{attr}: string type {h5_attr_kind(group, attr)}, expected {kind}")


def h5_replace_model_config(f, config):
    del f.attrs["model_config"]
    f.attrs["model_config"] = json.dumps(config).encode("utf8")  # bytes: variable-length ASCII, as written


def json_diff(a, b, path="$"):
    """Paths where two JSON values differ (a changed leaf or a changed list length counts once)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b):
            return [path]
        return [p for k in a for p in json_diff(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [p for i, (x, y) in enumerate(zip(a, b)) for p in json_diff(x, y, f"{path}[{i}]")]
    return [] if a == b and type(a) is type(b) else [path]


def json_changed_under(a, b, where):
    """Whether a and b differ, and only at or below the path `where` (json_diff's spelling)."""
    diff = json_diff(a, b)
    return bool(diff) and all(p == where or p.startswith(where + "[") or p.startswith(where + ".") for p in diff)


def h5_tree(image):
    """{path: (kind, shape, attrs)} of every object, for comparing a broken file with its base."""
    found = {}
    with h5py.File(io.BytesIO(image), "r") as f:
        def attrs(obj):
            return {k: repr(obj.attrs[k]) for k in obj.attrs}

        found["/"] = ("group", None, attrs(f))

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                found[name] = ("dataset", obj.shape, attrs(obj))
            else:
                found[name] = ("group", None, attrs(obj))

        f.visititems(visit)
    return found


def h5_changes(before, after):
    """The object paths whose presence, kind, shape or attributes differ."""
    a, b = h5_tree(before), h5_tree(after)
    return sorted(p for p in set(a) | set(b) if a.get(p) != b.get(p))


def generate_bad(out):
    """Writes bad/ from the valid files already in `out`; returns the index entries."""
    entries = []

    def add(stem, ext, data, base, error, contains, notes, config=None):
        check(error in BAD_ERRORS, f"{stem}: unknown error kind {error}")
        check(all(s.isascii() and s for s in contains), f"{stem}: contains must be non-empty ASCII strings")
        file = f"{BAD_DIR}/{stem}{ext}"
        check(not (out / file).exists(), f"duplicate bad file {file}")
        (out / file).write_bytes(data)
        entry = {"name": f"{BAD_DIR}/{stem}", "file": file}
        if config is not None:
            entry["config"] = f"{BAD_DIR}/{stem}.json"
            (out / entry["config"]).write_bytes(config)
        entry.update({"derived_from": base, "error": error, "contains": contains, "notes": notes})
        check(all(e["name"] != entry["name"] for e in entries), f"duplicate bad case {stem}")
        entries.append(entry)

    # --- .keras, from keras/dense_linear_rank2_bias: Sequential [InputLayer, Dense "dense" (4)] on
    # [null, 11]; weights layers/dense/vars/0 (kernel (11, 4)) and /1 (bias (4,)).
    k_base = "keras/dense_linear_rank2_bias"
    k_path = out / f"{k_base}.keras"
    k_bytes = k_path.read_bytes()
    members = keras_members(k_path)
    check([n for n, _ in members] == ["metadata.json", "config.json", "model.weights.h5"], f"{k_path}: members")
    k_config_text = dict(members)["config.json"]
    k_config = json.loads(k_config_text)
    k_weights = dict(members)["model.weights.h5"]
    check(k_config["config"]["layers"][1]["config"]["name"] == "dense", f"{k_base}: expected layer 'dense'")

    def keras_with(**replace):
        """The base archive with members replaced (bytes) or left out (None), same order and stamps."""
        kept = [(n, replace.get(n, d)) for n, d in members]
        return keras_zip([(n, d) for n, d in kept if d is not None])

    def keras_weights(edit, want_changed):
        image = h5_edit(k_weights, edit)
        changed = h5_changes(k_weights, image)
        check(changed == want_changed, f"{k_base} weights edit changed {changed}, expected {want_changed}")
        return keras_with(**{"model.weights.h5": image})

    def keras_config(where, edit):
        cfg = copy.deepcopy(k_config)
        edit(cfg)
        check(json_changed_under(k_config, cfg, where), f"{k_base}: config edit changed {json_diff(k_config, cfg)}")
        return keras_with(**{"config.json": json.dumps(cfg).encode()})

    add("keras_missing_layer_vars", ".keras",
        keras_weights(lambda f: f["layers/dense"].__delitem__("vars"), ["layers/dense/vars", "layers/dense/vars/0",
                                                                        "layers/dense/vars/1"]),
        k_base, "io_error", ["'dense'", "layers/dense/vars"],
        "model.weights.h5 without the group layers/dense/vars (the Dense layer's kernel and bias); the empty "
        "group layers/dense stays")
    add("keras_kernel_transposed", ".keras",
        keras_weights(lambda f: h5_replace_dataset(f, "layers/dense/vars/0", data=np.ascontiguousarray(
            f["layers/dense/vars/0"][()].T)), ["layers/dense/vars/0"]),
        k_base, "model_error", ["kernel", "must have shape", "(11, 4)", "(4, 11)"],
        "layers/dense/vars/0 (the kernel) holds the (4, 11) transpose of the (11, 4) kernel")
    add("keras_absurd_dataset", ".keras",
        keras_weights(lambda f: h5_replace_dataset(f, "layers/dense/vars/0", shape=(ABSURD_DIM, ABSURD_DIM),
                                                   dtype="<f4", chunks=(1024, 1024)), ["layers/dense/vars/0"]),
        k_base, "model_error", ["kernel", "must have shape", "1073741824"],
        "layers/dense/vars/0 is a float32 dataset declared (2**30, 2**30) (4 EiB), chunked, no chunk written; "
        "the shape must be rejected before anything is allocated or read")
    add("keras_unknown_class_locallyconnected1d", ".keras",
        keras_config("$.config.layers[1].class_name",
                     lambda c: c["config"]["layers"][1].__setitem__("class_name", "LocallyConnected1D")),
        k_base, "unsupported_error", ["LocallyConnected1D", "'dense'"],
        "config.json: the layer 'dense' has class_name LocallyConnected1D (its config is still a Dense config); a Keras 2 "
        "class strata does not implement")
    add("keras_absurd_batch_shape", ".keras",
        keras_config("$.config.layers[0].config.batch_shape", lambda c: c["config"]["layers"][0]["config"].__setitem__(
            "batch_shape", [None, ABSURD_BATCH_DIM, ABSURD_BATCH_DIM])),
        k_base, "load_error", ["dense"],
        "config.json: the InputLayer's batch_shape is [null, 2**40, 2**40] (build_config and build_input_shape "
        "still say [null, 11]); nothing of that size may be allocated; any strata::load_error is acceptable")
    bad_name = b'"name": "dense\xff\xfe"'
    check(k_config_text.count(b'"name": "dense"') == 1, f"{k_base}: layer name must occur once in config.json")
    add("keras_config_invalid_utf8", ".keras",
        keras_with(**{"config.json": k_config_text.replace(b'"name": "dense"', bad_name)}),
        k_base, "io_error", ["config.json", "JSON"],
        "config.json: the Dense layer's name is the bytes dense\\xff\\xfe, invalid UTF-8 inside a JSON string")
    add("keras_no_weights_member", ".keras", keras_with(**{"model.weights.h5": None}),
        k_base, "io_error", ["model.weights.h5"],
        "the archive has only metadata.json and config.json")
    add("keras_no_config_member", ".keras", keras_with(**{"config.json": None}),
        k_base, "io_error", ["config.json"],
        "the archive has only metadata.json and model.weights.h5")
    add("keras_truncated", ".keras", k_bytes[: len(k_bytes) // 2],
        k_base, "io_error", ["zip"],
        f"the first half ({len(k_bytes) // 2} of {len(k_bytes)} bytes) of the archive: the local header magic is "
        "there, the central directory is not")
    add("keras_gif_magic", ".keras", b"GIF89a" + k_bytes[6:],
        k_base, "io_error", ["not a Keras model file"],
        "the archive with its first 6 bytes (PK\\x03\\x04 and the version) replaced by GIF89a: no known magic")

    # --- Legacy full-model .h5, from h5/dense_linear_rank3_bias: Sequential [InputLayer "dense_input",
    # Dense "dense" (15)] on [null, 3, 6]; model_weights/dense/dense/kernel:0 (6, 15) and bias:0 (15,).
    h_base = "h5/dense_linear_rank3_bias"
    h_bytes = (out / f"{h_base}.h5").read_bytes()
    with h5py.File(io.BytesIO(h_bytes), "r") as f:
        h_config = json.loads(f.attrs["model_config"])
        check(_decode_list(f["model_weights"].attrs["layer_names"]) == ["dense"], f"{h_base}: layer_names")
    check([x["class_name"] for x in h_config["config"]["layers"]] == ["InputLayer", "Dense"], f"{h_base}: layers")

    def h5_with(base_bytes, edit, want_changed, base):
        image = h5_edit(base_bytes, edit)
        changed = h5_changes(base_bytes, image)
        check(changed == want_changed, f"{base} edit changed {changed}, expected {want_changed}")
        return image

    def h5_config(where, edit):
        cfg = copy.deepcopy(h_config)
        edit(cfg)
        check(json_changed_under(h_config, cfg, where), f"{h_base}: config edit changed {json_diff(h_config, cfg)}")
        return h5_with(h_bytes, lambda f: h5_replace_model_config(f, cfg), ["/"], h_base)

    add("h5_missing_dataset", ".h5",
        h5_with(h_bytes, lambda f: f["model_weights/dense/dense"].__delitem__("bias:0"),
                ["model_weights/dense/dense/bias:0"], h_base),
        h_base, "io_error", ["'dense'", "bias:0"],
        "model_weights/dense lists weight_names [dense/kernel:0, dense/bias:0] but has no dataset dense/bias:0")
    add("h5_kernel_transposed", ".h5",
        h5_with(h_bytes, lambda f: h5_replace_dataset(f, "model_weights/dense/dense/kernel:0", data=np.ascontiguousarray(
            f["model_weights/dense/dense/kernel:0"][()].T)), ["model_weights/dense/dense/kernel:0"], h_base),
        h_base, "model_error", ["kernel", "must have shape", "(6, 15)", "(15, 6)"],
        "model_weights/dense/dense/kernel:0 holds the (15, 6) transpose of the (6, 15) kernel")
    add("h5_absurd_dataset", ".h5",
        h5_with(h_bytes, lambda f: h5_replace_dataset(f, "model_weights/dense/dense/kernel:0",
                                                      shape=(ABSURD_DIM, ABSURD_DIM), dtype="<f4", chunks=(1024, 1024)),
                ["model_weights/dense/dense/kernel:0"], h_base),
        h_base, "model_error", ["kernel", "must have shape", "1073741824"],
        "model_weights/dense/dense/kernel:0 is a float32 dataset declared (2**30, 2**30) (4 EiB), chunked, no "
        "chunk written; the shape must be rejected before anything is allocated or read")
    add("h5_unknown_class_custom", ".h5",
        h5_config("$.config.layers[1].class_name",
                  lambda c: c["config"]["layers"][1].__setitem__("class_name", "MyCustomLayer")),
        h_base, "unsupported_error", ["MyCustomLayer", "'dense'"],
        "model_config: the layer 'dense' has class_name MyCustomLayer (a custom layer; its config is still a "
        "Dense config)")
    add("h5_absurd_batch_shape", ".h5",
        h5_config("$.config.layers[0].config.batch_input_shape", lambda c: c["config"]["layers"][0]["config"].__setitem__(
            "batch_input_shape", [None, ABSURD_BATCH_DIM, ABSURD_BATCH_DIM])),
        h_base, "load_error", ["dense"],
        "model_config: the InputLayer dense_input's batch_input_shape is [null, 2**40, 2**40] (the Dense "
        "layer's own batch_input_shape still says [null, 3, 6]); any strata::load_error is acceptable")
    add("h5_layer_name_not_utf8", ".h5",
        h5_with(h_bytes, lambda f: h5_replace_names(f["model_weights"], "layer_names", [b"dense\xff\xfe"]),
                ["model_weights"], h_base),
        h_base, "io_error", ["layer_names"],
        "model_weights.layer_names is [b'dense\\xff\\xfe'] (invalid UTF-8); the group is still model_weights/dense "
        "and the config says 'dense'. Renaming the group to the same bytes as well would make a file that loads: "
        "legacy weights bind by position among the layers with weights, as in Keras, not by name")

    # layer_names naming fewer layers with weights than the model has: a two-layer model.
    s_base = "h5/seed_lstm5_dense"
    s_bytes = (out / f"{s_base}.h5").read_bytes()
    add("h5_layer_names_short", ".h5",
        h5_with(s_bytes, lambda f: h5_replace_names(f["model_weights"], "layer_names", [b"lstm"]),
                ["model_weights"], s_base),
        s_base, "io_error", ["'dense'", "fewer than"],
        "Sequential LSTM 'lstm' -> Dense 'dense'; model_weights.layer_names is [lstm] (was [lstm, dense]); the "
        "group model_weights/dense and its weights are still there")

    # A weights-only file given to the single-file loader.
    w_base = "h5_weights/dense_softmax_rank2_nobias"
    add("h5_weights_only", ".h5", (out / f"{w_base}.h5").read_bytes(),
        w_base, "io_error", ["model_config"],
        "an unchanged weights-only file (save_weights layout, no model_config attribute) loaded with "
        "load_model(file) instead of load_model(config, file)")

    # --- A weights-only pair: layer_names short, as above, at the file root.
    p_base = "h5_weights/seed_lstm5_dense"
    p_bytes = (out / f"{p_base}.h5").read_bytes()
    add("h5_weights_layer_names_short", ".h5",
        h5_with(p_bytes, lambda f: h5_replace_names(f, "layer_names", [b"lstm"]), ["/"], p_base),
        p_base, "io_error", ["'dense'", "fewer than"],
        "load_model(config, file): the weights file's root layer_names is [lstm] (was [lstm, dense]); the "
        "config (unchanged) is Sequential LSTM 'lstm' -> Dense 'dense'",
        config=(out / f"{p_base}.json").read_bytes())

    # --- Keras 1.2.2 files.
    k_base = "h5/stacked2_mixed_rec_hard_sigmoid_keras1_th"
    k_bytes = (out / f"{k_base}.h5").read_bytes()

    def drop_last_name(f):
        g = f["model_weights/lstm"]
        h5_replace_names(g, "weight_names", [n.encode("utf8") for n in _decode_list(g.attrs["weight_names"])[:-1]])

    add("h5_keras1_lstm_eleven_arrays", ".h5", h5_with(k_bytes, drop_last_name, ["model_weights/lstm"], k_base),
        k_base, "model_error", ["'lstm'", "needs 3 weight arrays (or 12 in the older layout)", "has 11"],
        "Keras 1.2.2 Sequential LSTM -> LSTM; model_weights/lstm.weight_names lists 11 of the 12 per-gate arrays "
        "(lstm_U_o is left out; its dataset is still there)")
    m_base = "h5/dense_linear_rank2_bias_keras1_th"
    m_bytes = (out / f"{m_base}.h5").read_bytes()
    with h5py.File(io.BytesIO(m_bytes), "r") as f:
        m_config = json.loads(f.attrs["model_config"])

    def merge_first(c):
        # Keras 1.2.2 Sequential.get_config with a Merge first: its config (Merge.get_config) plus the merged
        # branches' layer configs under "layers".
        dense = c["config"][0]
        other = copy.deepcopy(dense)
        other["config"]["name"] = "dense_b"
        c["config"][0] = {"class_name": "Merge", "config": {
            "name": "merge_1", "mode": "cos", "mode_type": "raw", "concat_axis": -1, "dot_axes": [1, 1],
            "output_shape": None, "output_shape_type": "raw", "output_mask": None, "output_mask_type": "raw",
            "arguments": {}, "layers": [{"class_name": "Sequential", "config": [dense]},
                                        {"class_name": "Sequential", "config": [other]}]}}

    cfg = copy.deepcopy(m_config)
    merge_first(cfg)
    check(json_changed_under(m_config, cfg, "$.config[0]"), f"{m_base}: config edit changed {json_diff(m_config, cfg)}")
    add("h5_keras1_merge", ".h5", h5_with(m_bytes, lambda f: h5_replace_model_config(f, cfg), ["/"], m_base),
        m_base, "unsupported_error", ["layer 'merge_1' (Merge)", "mode 'cos' is not supported", "expand_dims"],
        "Keras 1.2.2 Sequential whose first layer is a Merge(mode='cos') of two Sequential branches of one Dense "
        "each (Keras 1's cosine mode is refused: its output gains a backend-dependent axis)")
    c_base = "h5/conv1d_valid_strides2_keras1_th"
    c_bytes = (out / f"{c_base}.h5").read_bytes()

    def keras10_conv1d_kernel(f):
        # Keras 1.0/1.1 stored Convolution1D's W as (nb_filter, input_dim, filter_length, 1) (Keras 2's
        # preprocess_weights_for_loading: "Legacy shape"); strata reads Keras 1.2's layout only.
        w = f["model_weights/conv1d/conv1d_W"][()]
        h5_replace_dataset(f, "model_weights/conv1d/conv1d_W", data=np.ascontiguousarray(w.transpose(3, 2, 0, 1)))

    add("h5_keras1_conv1d_old_layout", ".h5", h5_with(c_bytes, keras10_conv1d_kernel, ["model_weights/conv1d/conv1d_W"], c_base),
        c_base, "model_error", ["layer 'conv1d' (Convolution1D)", "must have shape (2, 1, 3, 6)", "the file has (6, 3, 2, 1)"],
        "Keras 1.2.2 Sequential Convolution1D whose W is in Keras 1.0/1.1's (nb_filter, input_dim, filter_length, 1) "
        "layout, which strata does not convert")
    # --- Nested models, from keras/nested_shared_twice and h5/nested_shared_twice: a Functional
    # "base" (Dense "base_d1", BatchNormalization "base_bn") called on two inputs.
    n_base = "keras/nested_shared_twice"
    n_members = keras_members(out / f"{n_base}.keras")
    n_weights = dict(n_members)["model.weights.h5"]
    n_vars = "layers/functional/layers/batch_normalization/vars"
    image = h5_edit(n_weights, lambda f: f[n_vars.rsplit("/", 1)[0]].__delitem__("vars"))
    check(h5_changes(n_weights, image) == [n_vars] + [f"{n_vars}/{i}" for i in range(4)], f"{n_base}: weights edit")
    add("keras_nested_missing_vars", ".keras",
        keras_zip([(n, image if n == "model.weights.h5" else d) for n, d in n_members]), n_base, "io_error",
        ["'base/base_bn'", n_vars],
        f"model.weights.h5 without {n_vars} (the nested model's BatchNormalization's four weights)")
    nh_base = "h5/nested_shared_twice"
    nh_bytes = (out / f"{nh_base}.h5").read_bytes()

    def drop_bn_names(f):
        g = f["model_weights/base"]
        names = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["weight_names"]]
        h5_replace_names(g, "weight_names", [n.encode() for n in names if not n.startswith("base_bn/")])

    add("h5_nested_missing_weights", ".h5", h5_with(nh_bytes, drop_bn_names, ["model_weights/base"], nh_base),
        nh_base, "model_error", ["'base/base_bn'", "nested model 'base'", "base_bn/..."],
        "model_weights/base's weight_names without the base_bn/... names (the nested BatchNormalization's weights)")

    return entries


# ---------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------
def clear_owned(out):
    index = out / "index.json"
    if index.exists():
        try:
            generator = json.loads(index.read_text()).get("generator")
        except (json.JSONDecodeError, AttributeError):
            generator = None
        if generator != GENERATOR:
            raise FixtureError(f"{index} was not written by {GENERATOR}; refusing to overwrite")
        index.unlink()
    for fmt in OWNED_SUFFIXES:
        d = out / fmt
        if not d.exists():
            continue
        for p in sorted(d.iterdir()):
            if p.is_file() and p.name.endswith(OWNED_SUFFIXES[fmt]):
                p.unlink()


def build_model(source, opts):
    model, fixture = load_source(source)
    if opts.get("functional"):
        if model.kind == "Functional":
            raise FixtureError(f"{source} is already Functional")
        model = to_functional(model, fixture["inputs"][0]["label"])
    return model, fixture


def source_stem(source):
    """File stem of a case: the reference case name ("torch:<case>" -> "torch_<case>")."""
    return "torch_" + source[6:].replace("/", "_") if source.startswith("torch:") else source.split("/")[1]


# ---------------------------------------------------------------------------------------------
# Nested models (a Sequential or Functional used as a layer, shared ones too): written straight from
# the TF.js config, which already uses Keras' snake_case keys, re-spelt per format where Keras differs
# only in how it nests:
# - Keras 3 (.keras): class "Model" is "Functional"; a Sequential lists its InputLayer (batch_shape);
#   inbound_nodes are {"args": [__keras_tensor__ ...], "kwargs": {}} and a nested Sequential's calls
#   count from node 0, a nested Functional's from 1 (functional.py node_reindexing_map); weights at
#   layers/<snake class>[_k]/layers/<snake class>[_k]/vars/<i> (saving_lib._save_container_state,
#   one name counter per container).
# - tf.keras 2.15 (.h5): class "Functional"; a nested model's group holds all its layers' weights,
#   model.trainable_weights then non_trainable_weights (legacy _legacy_weights), named
#   "<inner layer>/<var>:0" and stored under those names.
# ---------------------------------------------------------------------------------------------
NESTED_CASES = ["nested/seq_in_seq", "nested/fn_in_fn_bn", "nested/seq_in_fn", "nested/shared_twice",
                "nested/shared_seq_twice", "nested/two_levels"]
NESTED_FROZEN = ["nested/fn_in_fn_bn", "nested/two_levels"]  # also written with the nested model frozen
MODEL_CLASSES = ("Sequential", "Model", "Functional")
NON_TRAINABLE = ("moving_mean", "moving_variance")  # BatchNormalization's statistics


def _entry_name(entry):
    return entry.get("name") or entry["config"]["name"]


def _nested_weights(layers_section):
    """{layer name: [(var, array)]} for every (nested) layer of a fixture's layers section."""
    found = {}
    for entry in layers_section:
        if "layers" in entry:
            found.update(_nested_weights(entry["layers"]))
        else:
            found[entry["name"]] = [(w["name"].split("/")[-1], _float32_array(w)) for w in entry["weights"]]
    return found


def _tfjs_input_shape(mc):
    """The batch shape of a TF.js model config's (only) input."""
    layers = mc["config"]["layers"]
    if mc["class_name"] == "Sequential":
        first = layers[0]
        return _tfjs_input_shape(first) if first["class_name"] in MODEL_CLASSES else first["config"]["batch_input_shape"]
    name = mc["config"]["input_layers"][0][0]
    return next(e for e in layers if e["name"] == name)["config"]["batch_input_shape"]


def _k3_nested_config(mc, top):
    """A TF.js model config ({class_name, config}) in Keras 3's spelling, nested models included."""
    cls = "Sequential" if mc["class_name"] == "Sequential" else "Functional"
    cfg = copy.deepcopy(mc["config"])
    layers = []
    for entry in cfg["layers"]:
        sub_cls = entry["class_name"]
        out = {"module": "keras.layers", "class_name": sub_cls, "config": entry["config"], "registered_name": None}
        if sub_cls in MODEL_CLASSES:
            out = _k3_nested_config(entry, False)
        elif sub_cls == "InputLayer":
            c = dict(entry["config"])
            c["batch_shape"] = c.pop("batch_input_shape")
            out["config"] = c
        if cls == "Functional":
            out["name"] = entry["name"]
            out["inbound_nodes"] = []
            for node in entry["inbound_nodes"]:
                args = []
                for ref in node:
                    name, index = ref[0], int(ref[1])
                    # tfjs counts every nested model's calls from 1; Keras 3 a Sequential's from 0.
                    target = next(e for e in cfg["layers"] if e["name"] == name)
                    index -= 1 if target["class_name"] == "Sequential" else 0
                    args.append({"class_name": "__keras_tensor__", "config": {"shape": None, "dtype": "float32",
                                                                                "keras_history": [name, index,
                                                                                                  int(ref[2])]}})
                out["inbound_nodes"].append({"args": [args] if len(args) > 1 else args, "kwargs": {}})
        layers.append(out)
    if cls == "Functional":
        for ref in cfg["output_layers"]:
            target = next(e for e in cfg["layers"] if e["name"] == ref[0])
            ref[1] -= 1 if target["class_name"] == "Sequential" else 0
    if cls == "Sequential":
        # Sequential.build prepends an InputLayer, also when the first layer is a nested model (of
        # that model's input shape: _maybe_rebuild).
        first = mc["config"]["layers"][0]
        if first["class_name"] in MODEL_CLASSES:
            shape, name = _tfjs_input_shape(first), "input_layer"
        else:
            shape, name = layers[0]["config"].pop("batch_input_shape"), layers[0]["config"]["name"] + "_input"
        layers.insert(0, {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
                          "config": {"batch_shape": shape, "dtype": "float32", "sparse": False, "name": name}})
    cfg["layers"] = layers
    return {"module": "keras", "class_name": cls, "config": cfg, "registered_name": "Functional" if cls ==
            "Functional" else None, **({"name": cfg["name"]} if not top else {})}


def _k3_nested_vars(h5, prefix, mc, weights):
    """saving_lib's tree: every layer at <prefix>layers/<snake class>[_k], a model's layers below it."""
    used = {}
    for entry in mc["config"]["layers"]:
        cls = entry["class_name"]
        if mc["class_name"] == "Sequential" and cls == "InputLayer":
            continue
        key_cls = "Functional" if cls == "Model" else cls
        base = snake_case(key_cls)
        k = used.get(base, 0)
        used[base] = k + 1
        key = f"{prefix}layers/{base}" + (f"_{k}" if k else "")
        if cls in MODEL_CLASSES:
            k3_vars(h5, key, _entry_name(entry))  # the nested model's own (empty) vars
            _k3_nested_vars(h5, key + "/", entry, weights)
        else:
            k3_vars(h5, key, _entry_name(entry), [a for _, a in weights.get(_entry_name(entry), [])])


def _legacy_nested_config(mc, frozen=False):
    """`frozen`: the nested models were frozen (`base.trainable = False`, transfer learning's
    feature extractor): tf.keras' trainable setter clears the flag on every layer inside."""
    cfg = copy.deepcopy(mc["config"])
    for entry in cfg["layers"]:
        if entry["class_name"] in MODEL_CLASSES:
            entry.update(_legacy_nested_config(entry, frozen))
            if frozen:
                entry["config"]["trainable"] = False
                for inner in entry["config"]["layers"]:
                    inner["config"]["trainable"] = False
    return {"class_name": "Sequential" if mc["class_name"] == "Sequential" else "Functional", "config": cfg}


def _legacy_nested_weights(mc, weights):
    """A nested model's weights as Keras 2 saves its group: trainable ones, then non-trainable."""
    flat = []
    for entry in mc["config"]["layers"]:
        if entry["class_name"] in MODEL_CLASSES:
            flat += _legacy_nested_weights(entry, weights)
        else:
            name = _entry_name(entry)
            flat += [(f"{name}/{var}:0", var in NON_TRAINABLE, a) for var, a in weights.get(name, [])]
    return flat


def verify_nested(keras_path, h5_path, fixture):
    """Reopens both files: every inner layer's arrays, found where Keras would look, must be the
    reference's bit for bit, and each file must hold no other weight."""
    weights = _nested_weights(fixture["layers"])
    want = sum(len(w) for w in weights.values())
    with zipfile.ZipFile(keras_path) as z, h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as h5:
        config = json.loads(z.read("config.json"))
        found = []

        def walk(mc, prefix):
            used = {}
            for entry in mc["config"]["layers"]:
                if mc["class_name"] == "Sequential" and entry["class_name"] == "InputLayer":
                    continue  # not in Sequential.layers
                base = snake_case(entry["class_name"])
                k = used.get(base, 0)
                used[base] = k + 1
                key = f"{prefix}layers/{base}" + (f"_{k}" if k else "")
                if entry["class_name"] in MODEL_CLASSES:
                    walk(entry, key + "/")
                    continue
                name = _entry_name(entry)
                arrays = [h5[f"{key}/vars/{i}"][()] for i in range(len(h5[f"{key}/vars"]))]
                found.append(name)
                check(len(arrays) == len(weights.get(name, [])), f"{keras_path}: {key} has {len(arrays)} arrays")
                for got, (var, ref) in zip(arrays, weights.get(name, [])):
                    same_array(got, ref, f"{keras_path}: {key} {var}")

        walk(config, "")
        check(sum(len(weights.get(n, [])) for n in found) == want, f"{keras_path}: not every weight written")
    with h5py.File(h5_path, "r") as f:
        g = f["model_weights"]
        stored = 0
        for name in _decode_list(g.attrs["layer_names"]):
            names = _decode_list(g[name].attrs["weight_names"])
            stored += len(names)
            for n in names:
                layer, var = n.split("/")[-2], n.split("/")[-1].split(":")[0]
                ref = dict(weights[layer])[var]
                same_array(g[name][n][()], ref, f"{h5_path}: {name}/{n}")
        check(stored == want, f"{h5_path}: {stored} weights stored, {want} in the reference")


def write_nested_keras(fixture, path):
    mc = fixture["model_config"]
    weights = _nested_weights(fixture["layers"])
    buf = io.BytesIO()
    with h5py.File(buf, "w") as h5:
        k3_vars(h5, "", mc["config"]["name"])  # the model's own (empty) vars
        _k3_nested_vars(h5, "", mc, weights)
    metadata = json.dumps({"keras_version": KERAS3_VERSION, "date_saved": KERAS3_DATE_SAVED})
    config = json.dumps(_k3_nested_config(mc, True))
    path.write_bytes(keras_zip([("metadata.json", metadata.encode()), ("config.json", config.encode()),
                                ("model.weights.h5", buf.getvalue())]))


def write_nested_h5(fixture, path, frozen=False):
    """`frozen`: a frozen nested model has no trainable weights, so its group lists all of them in
    layer order (non_trainable_weights of a non-trainable model: every layer's weights in turn)."""
    mc = fixture["model_config"]
    weights = _nested_weights(fixture["layers"])
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = TF_KERAS_VERSION
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(_legacy_nested_config(mc, frozen)).encode("utf8")
        group = h5_group(f, "model_weights")
        entries = mc["config"]["layers"]
        names = [_entry_name(e) for e in entries]
        h5_bytes_list_attr(group, "layer_names", [n.encode("utf8") for n in names])
        group.attrs["backend"] = b"tensorflow"
        group.attrs["keras_version"] = TF_KERAS_VERSION.encode("utf8")
        for entry in sorted(entries, key=_entry_name):
            name = _entry_name(entry)
            if entry["class_name"] in MODEL_CLASSES:
                flat = _legacy_nested_weights(entry, weights)
                if not frozen:
                    flat = [w for w in flat if not w[1]] + [w for w in flat if w[1]]
            else:
                flat = [(f"{name}/{var}:0", False, a) for var, a in weights.get(name, [])]
            g = h5_group(group, name)
            h5_bytes_list_attr(g, "weight_names", [n.encode("utf8") for n, _, _ in flat])
            for n, _, a in flat:
                h5_dataset(g, n, a)
        h5_bytes_list_attr(h5_group(group, "top_level_model_weights"), "weight_names", [])


def generate(out, quiet=False):
    out.mkdir(parents=True, exist_ok=True)
    clear_owned(out)
    for fmt in OWNED_SUFFIXES:
        (out / fmt).mkdir(exist_ok=True)
    cases = []
    kinds = {}

    def add(name, fmt, file, source, version, expect, notes, model, extra=None):
        kinds.setdefault(fmt, set()).add(model.kind)
        entry = {"name": name, "format": fmt, "file": file}
        if extra and "config" in extra:
            entry["config"] = extra.pop("config")
        entry.update({"source": source, "keras_version": version, "expect": expect, "notes": notes})
        if extra:
            entry.update(extra)
        check(all(c["name"] != name for c in cases), f"duplicate case name {name}")
        cases.append(entry)
        if not quiet:
            print(f"  {file:62s} {model.kind:10s} {version:6s} {expect}")

    for source, opts in KERAS_CASES:
        model, fixture = build_model(source, opts)
        stem = source_stem(source) + ("_functional" if opts.get("functional") else "")
        expect = opts.get("expect", "match")
        hard = has_hard_sigmoid(model)
        check(hard == (expect == "differs"), f"{source}: .keras hard_sigmoid cases must be 'differs' (and only those)")
        path = out / "keras" / f"{stem}.keras"
        write_keras(model, path)
        verify_keras(path, model)
        notes = describe(model)
        extra = {}
        if opts.get("functional"):
            notes += "; the TF.js Sequential rebuilt as a Functional model"
        if expect == "differs":
            outputs = keras3_dense_outputs(model, fixture)
            outputs["source"] = source
            out_file = f"keras/{stem}.keras3_outputs.json"
            (out / out_file).write_text(json.dumps(outputs))
            extra["keras3_outputs"] = out_file
            notes += ("; Keras 3 hard_sigmoid is clip(x/6+0.5): the TF.js outputs (clip(0.2x+0.5)) must NOT "
                      "match; keras3_outputs holds the Keras 3 result")
        add(f"keras/{stem}", "keras", f"keras/{stem}.keras", source, KERAS3_VERSION, expect, notes, model, extra)

    for source, opts in H5_CASES:
        model, _ = build_model(source, opts)
        flavour = "old" if opts.get("old") else "tf"
        stem = source_stem(source) + ("_functional" if opts.get("functional") else "")
        stem += "_nocolon" if flavour == "old" else ""
        path = out / "h5" / f"{stem}.h5"
        write_h5(model, path, flavour)
        verify_h5(path, model, flavour)
        notes = describe(model)
        if opts.get("functional"):
            notes += "; the TF.js Sequential rebuilt as a Functional model"
        if flavour == "old":
            notes += ("; Keras 2.2.4/Theano spelling: weight names without ':0' or lstm_cell scope, root attrs "
                      "written as bytes, layer_names/weight_names as fixed-length strings, no top_level_model_weights")
        if has_hard_sigmoid(model):
            notes += "; hard_sigmoid = clip(0.2x+0.5) (Keras 2), same as TF.js"
        version = TF_KERAS_VERSION if flavour == "tf" else OLD_KERAS_VERSION
        add(f"h5/{stem}", "h5", f"h5/{stem}.h5", source, version, opts.get("expect", "match"), notes, model)

    for source in NESTED_CASES:
        fixture = json.loads((REFERENCE_DIR / f"{source}.json").read_text())
        stem = source_stem(source)
        nested = Model("Sequential" if fixture["model_config"]["class_name"] == "Sequential" else "Functional",
                       fixture["name"])
        notes = fixture["notes"].split(". Batch")[0].split(", on input")[0]
        write_nested_keras(fixture, out / "keras" / f"nested_{stem}.keras")
        add(f"keras/nested_{stem}", "keras", f"keras/nested_{stem}.keras", source, KERAS3_VERSION, "match",
            notes + "; Keras 3 nested layout", nested)
        write_nested_h5(fixture, out / "h5" / f"nested_{stem}.h5")
        add(f"h5/nested_{stem}", "h5", f"h5/nested_{stem}.h5", source, TF_KERAS_VERSION, "match",
            notes + "; tf.keras 2.15 nested layout", nested)
        verify_nested(out / "keras" / f"nested_{stem}.keras", out / "h5" / f"nested_{stem}.h5", fixture)
        if source in NESTED_FROZEN:
            write_nested_h5(fixture, out / "h5" / f"nested_{stem}_frozen.h5", frozen=True)
            add(f"h5/nested_{stem}_frozen", "h5", f"h5/nested_{stem}_frozen.h5", source, TF_KERAS_VERSION, "match",
                notes + "; tf.keras 2.15 nested layout, the nested model frozen (trainable=False): its weights "
                "in layer order", nested)
            verify_nested(out / "keras" / f"nested_{stem}.keras", out / "h5" / f"nested_{stem}_frozen.h5", fixture)

    for source, opts in H5_WEIGHTS_CASES:
        model, _ = build_model(source, opts)
        stem = source_stem(source) + ("_functional" if opts.get("functional") else "")
        weights_path = out / "h5_weights" / f"{stem}.h5"
        json_path = out / "h5_weights" / f"{stem}.json"
        write_h5_weights(model, weights_path, json_path)
        verify_h5_weights(weights_path, json_path, model)
        notes = describe(model) + "; legacy save_weights layout + model.to_json()"
        if opts.get("functional"):
            notes += "; the TF.js Sequential rebuilt as a Functional model"
        if has_hard_sigmoid(model):
            notes += "; hard_sigmoid = clip(0.2x+0.5) (Keras 2), same as TF.js"
        add(f"h5_weights/{stem}", "h5_weights", f"h5_weights/{stem}.h5", source, TF_KERAS_VERSION,
            opts.get("expect", "match"), notes, model, {"config": f"h5_weights/{stem}.json"})

    for source, opts in KERAS1_CASES:
        model, _ = build_model(source, opts)
        backend = opts["backend"]
        check(backend in KERAS1_BACKENDS, f"{source}: backend {backend}")
        for layer in model.weight_layers():
            for core in (layer, layer.inner, layer.backward):
                if core is not None and core.cls in KERAS1_GATES:
                    core.opts["consume_less"] = opts.get("consume_less", "cpu")
        fmt = opts.get("format", "h5")
        stem = source_stem(source) + ("_functional" if opts.get("functional") else "")
        stem += "_keras1_" + ("th" if backend == "theano" else "tf") + ("_gpu" if opts.get("consume_less") else "")
        notes = describe(model) + f"; Keras {KERAS1_VERSION} ({backend} backend: weight names "
        notes += ("with ':0'" if backend == "tensorflow" else "without ':0'") + "), Keras 1 config names"
        if any(x.cls in KERAS1_GATES or (x.inner is not None and x.inner.cls in KERAS1_GATES) for x in model.layers):
            notes += ("; LSTM/GRU weights as W, U, b (consume_less 'gpu')" if opts.get("consume_less")
                      else "; LSTM/GRU weights per gate (W_i, U_i, b_i, ...)")
        if opts.get("functional"):
            notes += "; the TF.js Sequential rebuilt as a Functional model"
        if opts.get("sequential_merge"):
            stem = source_stem(source) + "_seqmerge_keras1_" + ("th" if backend == "theano" else "tf")
            notes += "; the TF.js Functional model as Keras 1's Sequential([Merge([branch Sequentials]), ...])"
            path = out / "h5" / f"{stem}.h5"
            write_keras1_merge_h5(model, path, backend)
            add(f"h5/{stem}", "h5", f"h5/{stem}.h5", source, KERAS1_VERSION, "match", notes, model)
        elif fmt == "h5":
            path = out / "h5" / f"{stem}.h5"
            write_keras1_h5(model, path, backend)
            verify_keras1_h5(path, model, backend)
            add(f"h5/{stem}", "h5", f"h5/{stem}.h5", source, KERAS1_VERSION, "match", notes, model)
        else:
            weights_path = out / "h5_weights" / f"{stem}.h5"
            json_path = out / "h5_weights" / f"{stem}.json"
            write_keras1_h5_weights(model, weights_path, json_path, backend)
            verify_keras1_h5_weights(weights_path, json_path, model, backend)
            notes += "; Keras 1 save_weights layout (no version recorded) + model.to_json()"
            add(f"h5_weights/{stem}", "h5_weights", f"h5_weights/{stem}.h5", source, KERAS1_VERSION, "match",
                notes, model, {"config": f"h5_weights/{stem}.json"})

    generate_attention(out, add)
    for fmt in FORMATS:
        check(kinds.get(fmt) == {"Sequential", "Functional"}, f"{fmt}: needs Sequential and Functional cases")
    custom = generate_custom(out, quiet)
    bad = generate_bad(out)
    if not quiet:
        for entry in bad:
            print(f"  {entry['file']:62s} {entry['error']}")
    index = {"format_version": 1, "generator": GENERATOR, "cases": cases, "bad": bad, "custom": custom}
    (out / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    return cases, bad, custom


def tree_digest(root):
    digest = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            digest[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return digest


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (default tests/io/fixtures)")
    parser.add_argument("--verify-determinism", action="store_true",
                        help="also generate twice into temporary directories and compare every byte")
    args = parser.parse_args(argv)
    try:
        print(f"writing {args.out}")
        cases, bad, custom = generate(args.out)
        sizes = {}
        for c in cases + bad + custom:
            for key in ("file", "config", "keras3_outputs"):
                if key in c:
                    sizes[c[key]] = (args.out / c[key]).stat().st_size
        total = sum(sizes.values()) + (args.out / "index.json").stat().st_size
        per_format = {f: sum(1 for c in cases if c["format"] == f) for f in FORMATS}
        print(f"{len(cases)} cases ({', '.join(f'{k}: {v}' for k, v in per_format.items())}); "
              f"{sum(1 for c in cases if c['expect'] == 'differs')} expected to differ; {len(bad)} broken files "
              f"({sum((args.out / b['file']).stat().st_size for b in bad)} bytes); {len(custom)} custom-class "
              f"model(s)")
        print(f"total size of tests/io/fixtures files written: {total} bytes ({total / 1024:.1f} KiB); "
              f"largest file {max(sizes.values())} bytes")
        print("self-check passed: every file reopened, configs and weights match the reference fixtures")
        if args.verify_determinism:
            with tempfile.TemporaryDirectory() as tmp:
                a, b = Path(tmp) / "a", Path(tmp) / "b"
                generate(a, quiet=True)
                generate(b, quiet=True)
                da, db, dout = tree_digest(a), tree_digest(b), tree_digest(args.out)
                check(da == db, "two runs differ")
                check(da == dout, "a run into another directory differs from --out")
            print(f"determinism: two more runs gave byte-identical files ({len(da)} files)")
    except FixtureError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
