"""What every make_*_fixtures.py here writes alike: the fixture JSON (deterministic, 1-space
indent, float32 and float64 values in their shortest round-tripping decimals), the output directory,
the command line (--out DIR, --seed UINT32), each case's file and the group's index.json.

A script's main() is then: args = parse_args(__doc__, default_out); prepare_out_dir(out, GENERATOR);
entries = [write_case(out, fixture) for each case]; write_index(out, GENERATOR, args.seed, entries,
{header fields}).
"""

import argparse
import json
import math
import os
import sys

import numpy as np

FORMAT_VERSION = 1
DEFAULT_SEED = 20240611


# ---------------------------------------------------------------------------
# Number formatting and deterministic JSON (1-space indent, primitive arrays on one line)
# ---------------------------------------------------------------------------
class F32List:
    """float32 values (weights, inputs): shortest decimal that round-trips to the same float32."""

    def __init__(self, values):
        self.values = [float(v) for v in np.asarray(values, dtype=np.float64).ravel()]


class F64List:
    """float64 values (outputs): shortest decimal that round-trips to the same double (Python repr)."""

    def __init__(self, values):
        self.values = [float(v) for v in np.asarray(values, dtype=np.float64).ravel()]


def fmt_f32(v):
    if not math.isfinite(v):
        raise ValueError(f'non-finite {v}')
    f = np.float32(v)
    if float(f) != v:
        raise ValueError(f'{v!r} is not a float32')
    if v == 0:
        return '-0' if math.copysign(1.0, v) < 0 else '0'
    for p in range(1, 10):
        s = '%.*g' % (p, v)
        if float(np.float32(float(s))) == v:
            return normalize_num(s)
    raise ValueError(f'cannot format {v!r}')


def fmt_f64(v):
    if not math.isfinite(v):
        raise ValueError(f'non-finite {v}')
    s = repr(float(v))
    if float(s) != v:
        raise ValueError(f'cannot format {v!r}')
    return normalize_num(s)


def normalize_num(s):
    # '1.0' -> '1', '1e-05' -> '1e-5', '1.5e+20' -> '1.5e20' (JSON numbers in the tfjs fixtures' style)
    if 'e' in s:
        m, e = s.split('e')
        if m.endswith('.0'):
            m = m[:-2]
        e = int(e)
        return f'{m}e{e}'
    if s.endswith('.0'):
        s = s[:-2]
    if s == '-0':
        return '-0'
    return s


def to_json(value, indent=''):
    nxt = indent + ' '
    if isinstance(value, F32List):
        return '[' + ','.join(fmt_f32(v) for v in value.values) + ']'
    if isinstance(value, F64List):
        return '[' + ','.join(fmt_f64(v) for v in value.values) + ']'
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return json.dumps(value)  # config floats as Python's json writes them (0.0, 1.0)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        if len(value) == 0:
            return '[]'
        if all(v is None or isinstance(v, (bool, int, float, str)) for v in value):
            return '[' + ','.join(to_json(v) for v in value) + ']'
        return '[\n' + ',\n'.join(nxt + to_json(v, nxt) for v in value) + '\n' + indent + ']'
    if isinstance(value, dict):
        keys = [k for k in value if value[k] is not Ellipsis]
        if not keys:
            return '{}'
        return '{\n' + ',\n'.join(nxt + json.dumps(k) + ': ' + to_json(value[k], nxt) for k in keys) + '\n' + indent + '}'
    raise TypeError(type(value))


def prepare_out_dir(out, generator):
    """Empties the output directory of its .json files (only when it is empty or holds an
    index.json written by `generator`: never someone else's files) and creates it. Shared by every
    make_*_fixtures.py here."""
    if os.path.isdir(out):
        idx = os.path.join(out, 'index.json')
        ours = not os.listdir(out)
        if not ours and os.path.exists(idx):
            with open(idx, encoding='utf-8') as f:
                ours = json.load(f).get('generator') == generator
        if not ours:
            sys.exit(f'refusing to clear {out}: not empty and no index.json written by {generator}')
        for fn in os.listdir(out):
            if fn.endswith('.json'):
                os.remove(os.path.join(out, fn))
    os.makedirs(out, exist_ok=True)


def parse_args(doc, default_out):
    """--out DIR (default `default_out`) and --seed UINT32, described by the script's docstring."""
    ap = argparse.ArgumentParser(description=doc.split('\n')[0])
    ap.add_argument('--out', default=default_out)
    ap.add_argument('--seed', type=int, default=DEFAULT_SEED)
    return ap.parse_args()


def write_case(out, fixture, **extra):
    """Writes <out>/<name>.json and returns the case's index entry (name, group, file, seed, then
    `extra`)."""
    name = fixture['name']
    with open(os.path.join(out, f'{name}.json'), 'w', encoding='utf-8', newline='\n') as f:
        f.write(to_json(fixture) + '\n')
    return {'name': name, 'group': fixture['group'], 'file': f'{name}.json', 'seed': fixture['seed'], **extra}


def write_index(out, generator, master_seed, entries, about=None, after_count=None, groups=True):
    """Writes <out>/index.json: format_version, generator, the `about` fields (reference, versions,
    compute_dtype), master_seed, count, the `after_count` fields, the case names by group (unless
    `groups` is false) and the entries."""
    index = {'format_version': FORMAT_VERSION, 'generator': generator, **(about or {}), 'master_seed': master_seed,
             'count': len(entries), **(after_count or {})}
    if groups:
        index['groups'] = {}
        for e in entries:
            index['groups'].setdefault(e['group'], []).append(e['name'])
    index['cases'] = entries
    with open(os.path.join(out, 'index.json'), 'w', encoding='utf-8', newline='\n') as f:
        f.write(to_json(index) + '\n')
    print(f'wrote {len(entries)} fixtures to {out}')
