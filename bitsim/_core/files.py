"""Writing output files atomically: a temporary file in the same directory, renamed over the
target only once it is complete, so that an interrupted or failed write never leaves a half
file (and never destroys the old one)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Iterator

__all__ = ["atomic_path", "write_text"]


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """A temporary path to write ``path``'s new content to; renamed to ``path`` when the block
    ends normally, removed otherwise."""
    directory, name = os.path.split(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # what open() would have given the file
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str, text: str) -> None:
    """``text`` (UTF-8) to ``path``, atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)
