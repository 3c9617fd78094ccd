"""The driver's store of cell folders: a folder packed as bytes to travel between a worker
and the driver, and written back atomically."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from pathlib import Path

DONE = "DONE"  #: the file that marks a finished cell


def pack(folder: Path) -> bytes:
    """A folder as gzipped tar bytes (what a worker sends to the driver)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=3) as tar:
        tar.add(folder, arcname=".")
    return buf.getvalue()


def unpack(blob: bytes, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        tar.extractall(folder, filter="data")


class CellStore:
    """The driver's side of the cells: snapshots written into ``OUT/cells/<id>`` atomically
    (extracted beside, then swapped in), read back for a retry."""

    def __init__(self, root: str):
        self.root = Path(root) / "cells"
        self.root.mkdir(parents=True, exist_ok=True)

    def put(self, cell_id: str, blob: bytes) -> bool:
        final = self.root / cell_id
        tmp = self.root / f".{cell_id}.incoming"
        old = self.root / f".{cell_id}.old"
        shutil.rmtree(tmp, ignore_errors=True)
        unpack(blob, tmp)
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
        return True

    def get(self, cell_id: str) -> bytes | None:
        folder = self.root / cell_id
        return pack(folder) if folder.is_dir() else None
