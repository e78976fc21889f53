"""Command line: one thin module per command over the library. ``bitsim COMMAND --help``.

Input errors (``bitsim.InputError``, a file that cannot be read, a missing optional extra) print
one line naming the command-line flag and exit with status 2; Ctrl-C (SIGINT) stops every
command within about a second with one line and exit status 130 (128 + SIGINT); anything else
is a bug and shows its traceback.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import List, NoReturn, Optional

from bitsim._core import interrupt
from bitsim._core.checks import InputError
from bitsim._version import __version__

__all__ = ["build_parser", "main"]


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: 'bitsim CMD: error: MESSAGE (bitsim CMD --help)'."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    # the commands (and the kernels, numba, ... they import) load here, inside main's SIGINT
    # guard: Ctrl-C while they load ends with one line, not a traceback
    from bitsim.cli import accwidth, dataflow, flips, gates, plot, report, roofline, sweep

    parser = Parser(prog="bitsim", description="What a quantized neural network costs in silicon.")
    parser.add_argument("--version", action="version", version=f"bitsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in (flips, roofline, accwidth, report, plot, sweep, gates, dataflow):
        command.register(sub)
    return parser


def _flag_message(message: str, options: List[str]) -> str:
    """An error about a library parameter ('x_bits: ...') named by its flag ('--x-bits: ...')
    when the command has that flag."""
    m = re.match(r"([a-z_][a-z0-9_]*): ", message)
    if m:
        for flag in (f"--{m.group(1).replace('_', '-')}", f"-{m.group(1)}"):
            if flag in options:
                return flag + message[len(m.group(1)) :]
    return message


def _os_message(err: OSError, args) -> str:
    """'--flag: cannot read FILE: reason' for a file a flag (or argument) named."""
    reason = err.strerror or str(err)
    for action in args.parser._actions:
        if err.filename is not None and getattr(args, action.dest, None) == err.filename:
            name = action.option_strings[0] if action.option_strings else action.dest
            return f"{name}: {err.filename}: {reason}"
    return f"{err.filename}: {reason}" if err.filename is not None else reason


INTERRUPTED = 130  # exit status after SIGINT, as shells report it (128 + 2)


def main(argv: Optional[List[str]] = None) -> int:
    try:
        with interrupt.sigint():
            parser = build_parser()
            args = parser.parse_args(argv)
            try:
                args.run(args)
            except (InputError, OSError) as err:
                options = [o for a in args.parser._actions for o in a.option_strings]
                message = _os_message(err, args) if isinstance(err, OSError) else str(err)
                parser.exit(2, f"bitsim {args.command}: error: {_flag_message(message, options)}\n")
            if interrupt.signalled():  # Python swallowed the KeyboardInterrupt
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        sys.stderr.write(("\n" if sys.stderr.isatty() else "") + "bitsim: interrupted\n")
        return INTERRUPTED
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
