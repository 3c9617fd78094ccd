"""Files of plain data that loading cannot turn into code: a tree of dicts, lists, numbers,
strings and arrays saved as one ``.npz`` (the arrays as ``.npy`` entries, the tree as JSON).

A run folder's checkpoint state, normalization statistics and replay buffer are saved here
instead of as pickles: ``np.load(..., allow_pickle=False)`` and ``json.loads`` build data,
never objects of a class the file names, so a crafted file can at worst fail to load (see
``docs/security.md``). The typed values besides arrays and torch tensors are records
(``NamedTuple`` and dataclass instances) of moonshot's own classes, rebuilt only from a class
the running program has already imported (the file names it; nothing is imported for it).

This module sits beside the layered packages (it imports numpy only; torch when a tree holds
a tensor).
"""

from __future__ import annotations

import collections
import dataclasses
import io
import json
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

#: The JSON entry of the ``.npz`` that holds the tree.
_TREE = "__tree__"
#: Keys that mark a typed value in the JSON tree (a dict with exactly one of them).
_TAGS = ("__array__", "__torch__", "__tuple__", "__dict__", "__deque__", "__scalar__",
         "__record__")
#: Records are rebuilt only from classes of these packages.
_RECORD_PACKAGES = ("moonshot.",)


class UnsafeFileError(ValueError):
    """A run folder file moonshot will not load as it is (a pickle: loading it runs code)."""


def encode_tree(obj: Any) -> tuple[str, dict[str, np.ndarray]]:
    """``obj`` as JSON text and the arrays it refers to (``a0``, ``a1``, ...)."""
    arrays: dict[str, np.ndarray] = {}

    def enc(x: Any) -> Any:
        if x is None or isinstance(x, (bool, str)):
            return x
        if isinstance(x, (int, float)) and type(x) in (int, float):
            return x
        if isinstance(x, np.ndarray):
            if x.dtype.hasobject:
                raise TypeError("an array of Python objects cannot be stored as plain data")
            key = f"a{len(arrays)}"
            arrays[key] = x
            return {"__array__": key}
        if isinstance(x, np.generic):
            return {"__scalar__": [x.dtype.str, x.item()]}
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(x, torch.Tensor):
            key = f"a{len(arrays)}"
            arrays[key] = x.detach().cpu().numpy()
            return {"__torch__": key}
        if isinstance(x, tuple) and hasattr(x, "_fields") or (
                dataclasses.is_dataclass(x) and not isinstance(x, type)):
            cls = type(x)
            names = x._fields if isinstance(x, tuple) else [
                f.name for f in dataclasses.fields(x) if f.init]
            return {"__record__": [cls.__module__, cls.__qualname__,
                                   {f: enc(getattr(x, f)) for f in names}]}
        if isinstance(x, tuple):
            return {"__tuple__": [enc(v) for v in x]}
        if isinstance(x, collections.deque):
            return {"__deque__": [[enc(v) for v in x], x.maxlen]}
        if isinstance(x, list):
            return [enc(v) for v in x]
        if isinstance(x, dict):
            if all(isinstance(k, str) for k in x) and not any(k in _TAGS for k in x):
                return {k: enc(v) for k, v in x.items()}
            return {"__dict__": [[enc(k), enc(v)] for k, v in x.items()]}
        raise TypeError(f"cannot store a {type(x).__name__} as plain data")

    return json.dumps(enc(obj)), arrays


def decode_tree(text: str, arrays: dict[str, np.ndarray]) -> Any:
    """The inverse of :func:`encode_tree` (``ValueError`` on anything it did not write)."""

    def dec(x: Any) -> Any:
        if isinstance(x, list):
            return [dec(v) for v in x]
        if not isinstance(x, dict):
            return x
        if len(x) == 1 and next(iter(x)) in _TAGS:
            (tag, val), = x.items()
            return _DECODERS[tag](val, dec, arrays)
        return {k: dec(v) for k, v in x.items()}

    return dec(json.loads(text))


def _array(val, dec, arrays):
    return arrays[val]


def _tensor(val, dec, arrays):
    import torch

    return torch.from_numpy(np.array(arrays[val]))


def _scalar(val, dec, arrays):
    dtype, value = val
    return np.dtype(dtype).type(value)


def _record(val, dec, arrays):
    module, qualname, fields = val
    # only a class of moonshot's that the program has imported itself
    obj: Any = sys.modules.get(module) if str(module).startswith(_RECORD_PACKAGES) else None
    for part in str(qualname).split("."):
        obj = getattr(obj, part, None)
    if not (isinstance(obj, type) and str(obj.__module__).startswith(_RECORD_PACKAGES)
            and (issubclass(obj, tuple) and hasattr(obj, "_fields")
                 or dataclasses.is_dataclass(obj))):
        # reached through a moonshot module's attributes, a class must still be moonshot's
        raise ValueError(f"unknown record type {module}.{qualname}")
    return obj(**{k: dec(v) for k, v in fields.items()})


_DECODERS = {
    "__array__": _array,
    "__torch__": _tensor,
    "__scalar__": _scalar,
    "__tuple__": lambda val, dec, arrays: tuple(dec(v) for v in val),
    "__deque__": lambda val, dec, arrays: collections.deque((dec(v) for v in val[0]),
                                                            maxlen=val[1]),
    "__dict__": lambda val, dec, arrays: {_hashable(dec(k)): dec(v) for k, v in val},
    "__record__": _record,
}


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def tree_bytes(obj: Any) -> bytes:
    """``obj`` as the bytes of an ``.npz`` file (see the module docstring)."""
    text, arrays = encode_tree(obj)
    buf = io.BytesIO()
    # one mapping: numpy's stub would match a second ** to savez's allow_pickle (keys a0, a1, ...)
    members: dict[str, Any] = {_TREE: np.frombuffer(text.encode("utf-8"), dtype=np.uint8), **arrays}
    np.savez(buf, **members)
    return buf.getvalue()


def save_tree(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` to ``path`` atomically (a temporary file, then a rename)."""
    from .runlog import atomic_write_bytes

    atomic_write_bytes(path, tree_bytes(obj))


def load_tree(path: str | os.PathLike, what: str = "file") -> Any:
    """The tree saved in ``path``; any fault is a ``ValueError`` (``FileNotFoundError`` if it
    is missing) naming the file and ``what`` it should hold."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"missing {what}: {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        text = arrays.pop(_TREE).tobytes().decode("utf-8")
        return decode_tree(text, arrays)
    except (ValueError, KeyError, TypeError, OSError, EOFError, zipfile.BadZipFile,
            json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"unreadable {what} {path}: {type(exc).__name__}: {exc}") from None
