#!/usr/bin/env bash
# Regenerate strata's Keras reference fixtures (tests/reference/fixtures/) with
# TensorFlow.js Layers 4.22.0 on the pure-JS CPU backend.
# Usage (from anywhere): bash tools/keras-reference/regenerate.sh [--seed UINT32]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
cd "$here"
npm ci --no-audit --no-fund
node --import ./tfjs-nlp-register.mjs generate.mjs --out "$repo_root/tests/reference/fixtures" "$@"
