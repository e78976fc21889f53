"""Users' files: output written atomically (a temporary file in the same directory, renamed
over the target only once it is complete, so that an interrupted or failed write never leaves
a half file or destroys the old one); input read with one-line errors naming the argument and
the file (YAML always loaded safely, errors with line and column)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Iterator, Optional

from bitsim._core.checks import InputError

__all__ = ["atomic_path", "load_yaml", "read_text", "write_text"]


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


def read_text(path: str, name: str) -> str:
    """The text of a user's file, or an error naming the argument ``name`` and the file."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError:
        raise InputError(f"{name}: {path} is not a UTF-8 text file") from None
    except OSError as err:
        raise InputError(f"{name}: cannot read {path}: {err.strerror or err}") from None


def load_yaml(path: str, name: str, text: Optional[str] = None):
    """The data of a YAML file, always loaded safely (no Python tags), and its node tree
    (for line numbers); a malformed file is one error line naming the argument, the file,
    line and column."""
    import yaml

    text = read_text(path, name) if text is None else text
    try:
        return yaml.safe_load(text), yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else path
        what = " ".join(
            str(p) for p in (getattr(err, "context", None), getattr(err, "problem", None)) if p
        )
        raise InputError(f"{name}: {where}: not valid YAML: {what or err}") from None
