"""Write the reference bytecode payloads used by tests/test_bytecode_*.py.

Run it with every interpreter whose bytecode the tests cover, from the repository root:

    for v in 3.6.15 3.7.16 3.8.18 3.9.18 3.10.13 3.11.7 3.12.1 3.13.0; do
        PYTHONPATH=/tmp/cloudpickle_only /root/.pyenv/versions/$v/bin/python \
            tests/data/bytecode/generate.py
    done

where /tmp/cloudpickle_only holds a copy of the pure-Python `cloudpickle` package (3.1.x);
without it the cloudpickle cases are left out (they are for Python 3.8+ only anyway).
Each run writes tests/data/bytecode/py3XX.json: {case: {"b64": ..., "firstlineno": ...}}.

`--tables` instead prints the opcode signature table of the running interpreter in the form
embedded in src/tfpcheck/model_file/bytecode/opcode_tables.py.

This script must stay runnable by Python 3.6: no walrus, no match, no `from __future__`.
"""

import base64
import json
import marshal
import math as tfd_like
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# The names below need not exist: the code is only compiled, never called.
tfd = tf = None


lam_normal = lambda t: tfd.Normal(loc=t[..., :1], scale=tf.exp(t[..., 1:]))  # noqa: E731
lam_categorical = lambda t: tfd.Categorical(logits=t)  # noqa: E731
lam_onehot = lambda t: tfd.OneHotCategorical(probs=t)  # noqa: E731
lam_double = lambda x: x * 2  # noqa: E731


def def_locals(y_pred):
    loc = y_pred[:, 0]
    scale = tf.reshape(y_pred[:, 2:], (32, 2, 2))
    return tfd.Normal(loc=loc, scale=scale)


def corpus(a, b=1, *args, c=2, **kwargs):
    """Many constructs, so that every version's opcode signature gets exercised."""
    total = 0
    for i in range(a):
        if i in args or i is None:
            continue
        total += i**2
    while total > 100 and not b:
        total //= 2
    try:
        import os.path as osp

        total += len(osp.sep)
    except (ValueError, KeyError) as exc:
        total = str(exc)
    finally:
        b = -b
    with open(os.devnull) as handle:
        handle.read()
    squares = [x * x for x in range(3) if x]
    table = {k: v for k, v in kwargs.items()}
    values = {1, 2, a}
    first, *rest = (1, 2, 3)
    text = " ".join([str(first), str(rest)]) + f"{total!r:>10}"
    assert a < b < c, "ordered"

    def inner(z=c):
        nonlocal total
        total += z
        return lambda w: w[1:2, ::-1] + total

    del squares[0:1]
    return inner, table, values, text, ~a, +b, a @ b if c else a % b


async def coroutine(x):
    await x
    async for item in x:
        yield item


def closure_maker(event_size):
    return lambda t: OneHotCategorical.new(t, event_size)  # noqa: F821


def cloudpickle_cases():
    try:
        import cloudpickle
    except ImportError:
        return {}
    cases = {
        "cp_softplus": lambda t: tfd_like.Normal(
            loc=t[..., :1], scale=1e-3 + tfd_like.softplus(0.05 * t[..., 1:])
        ),
        "cp_closure": closure_maker(10),
    }
    out = {}
    for name, func in cases.items():
        code = func.__code__
        out[name] = {
            "b64": base64.b64encode(cloudpickle.dumps(func)).decode("ascii"),
            "firstlineno": code.co_firstlineno,
            "filename": code.co_filename,
            "qualname": getattr(func, "__qualname__", None),
        }
    return out


def marshal_cases():
    funcs = {
        "lam_normal": lam_normal,
        "lam_categorical": lam_categorical,
        "lam_onehot": lam_onehot,
        "lam_double": lam_double,
        "def_locals": def_locals,
        "corpus": corpus,
        "coroutine": coroutine,
    }
    out = {}
    for name, func in funcs.items():
        code = func.__code__
        out[name] = {
            "b64": base64.b64encode(marshal.dumps(code)).decode("ascii"),
            "firstlineno": code.co_firstlineno,
            "filename": code.co_filename,
        }
    return out


def opcode_table():
    """The signature of this interpreter's bytecode: real opcodes and inline cache sizes."""
    import opcode

    skip = set(getattr(opcode, "_specialized_opmap", {}))
    skip.update(getattr(opcode, "_specialized_instructions", ()))
    ops = []
    for name, num in opcode.opmap.items():
        # CACHE only fills cache slots; specialized, instrumented and pseudo instructions are
        # never written to marshal data (the code is de-optimized first).
        if num >= 256 or name in skip or name in ("CACHE", "RESERVED", "ENTER_EXECUTOR"):
            continue
        if name.startswith("INSTRUMENTED_"):
            continue
        ops.append(num)
    entries = getattr(opcode, "_inline_cache_entries", None)
    caches = {}
    if isinstance(entries, dict):
        caches = {opcode.opmap[name]: n for name, n in entries.items() if n}
    elif entries is not None:
        caches = {num: n for num, n in enumerate(entries) if n and num in ops}
    named = {
        name: opcode.opmap[name]
        for name in ("EXTENDED_ARG", "LOAD_GLOBAL", "LOAD_NAME", "IMPORT_NAME", "RESUME")
        if name in opcode.opmap
    }
    return {"ops": sorted(ops), "caches": dict(sorted(caches.items())), "named": named}


def ranges(nums):
    parts = []
    start = prev = None
    for num in nums:
        if start is None:
            start = prev = num
        elif num == prev + 1:
            prev = num
        else:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
            start = prev = num
    if start is not None:
        parts.append(str(start) if start == prev else f"{start}-{prev}")
    return ",".join(parts)


def main():
    version = "{}.{}".format(*sys.version_info[:2])
    if "--tables" in sys.argv:
        table = opcode_table()
        print(f"    ({version.replace('.', ', ')}): OpcodeTable(")
        print(f'        ops="{ranges(table["ops"])}",')
        print(f"        caches={table['caches']!r},")
        print(f"        named={table['named']!r},")
        print("    ),")
        return
    cases = marshal_cases()
    cases.update(cloudpickle_cases())
    payload = {"python": sys.version.split()[0], "cases": cases}
    path = os.path.join(HERE, "py{}{}.json".format(*sys.version_info[:2]))
    with open(path, "w") as handle:
        json.dump(payload, handle, indent=1, sort_keys=True)
        handle.write("\n")
    print("wrote", path, sorted(cases), "for Python", version)


if __name__ == "__main__":
    main()
