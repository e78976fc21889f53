"""Hostile command lines: random argument lists for every subcommand (numbers out of range,
inf/nan, huge, negative, wrong types, unknown choices, missing files, garbage YAML/JSON) end
with exit status 0, or 2 and one line on stderr, or (a valid run too long for the test, which
interrupts it after a second) 130 and one line; never a traceback, crash or hang."""

import contextlib
import io
import signal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitsim._core.interrupt import _on_sigint
from bitsim.cli import main

TIME_LIMIT_S = 1.0  # each command line runs at most this long, then gets a KeyboardInterrupt

NUMBERS = [
    "0",
    "1",
    "2",
    "-1",
    "3",
    "8",
    "33",
    "64",
    "65",
    "1000",
    "1e3",
    "2.5",
    "1e-300",
    "nan",
    "inf",
    "-inf",
    "1e400",
    "9223372036854775807",
    "9223372036854775808",
    "2**70",
    "0x10",
    "abc",
    "",
    "4,8",
    "3x3",
]
OPERAND = {
    "--bits": NUMBERS,
    "--x-bits": NUMBERS,
    "--w-bits": NUMBERS,
    "--signed": ["both", "signed", "unsigned", "maybe"],
    "--dist": ["uniform", "normal", "laplace", "gauss"],
    "--x-dist": ["half-normal", "x"],
    "--scale": NUMBERS,
}
RUN = {
    "-n": NUMBERS,
    "--seed": NUMBERS,
    "--threads": NUMBERS,
    "--backend": ["c", "reference", "gpu"],
    "--simd": ["auto", "scalar", "avx2", "avx512", "neon"],
    "--format": ["table", "csv", "json", "markdown", "xml"],
}
FLAGS = {
    "flips": {**OPERAND, **RUN, "--acc-bits": NUMBERS, "--length": NUMBERS},
    "accwidth": {
        **OPERAND,
        **RUN,
        "--k": NUMBERS,
        "--eps": NUMBERS,
        "--dots": NUMBERS,
        "--flips-n": NUMBERS,
    },
    "gates": {
        **OPERAND,
        **RUN,
        "--arch": ["array", "booth", "wallace", "nope"],
        "--netlist": ["NETLIST_GARBAGE", "NETLIST_NOBITS", "MISSING"],
        "--acc-bits": NUMBERS,
        "--length": NUMBERS,
        "--a-port": ["a", "zz"],
        "--module": ["top", "none"],
    },
    "report": {
        **RUN,
        "--a-bits": NUMBERS,
        "--w-bits": NUMBERS,
        "--acc-bits": NUMBERS,
        "--first-last-bits": NUMBERS,
        "--overrides": ["YAML_GARBAGE", "YAML_TAG", "JSON_GARBAGE", "MISSING"],
        "--elementwise-format": ["int16", "bf16", "int0", "foo"],
        "--out": ["OUT_TXT", "/nonexistent/dir/x.txt"],
    },
    "roofline": {
        "--conv": ["256x256x3x3", "0x1x3x3", "3x3", "axb", "1e3x2x1x1"],
        "--linear": ["512x1000", "5", "-1x2"],
        "--network": ["resnet18", "nope"],
        "--input": ["56", "56x56", "0", "x"],
        "--stride": NUMBERS,
        "--padding": NUMBERS + ["same"],
        "--groups": NUMBERS,
        "--area-mm2": NUMBERS,
        "--clock": NUMBERS,
        "--mem-bw": NUMBERS,
        "--formats": ["int8", "int8,fp32", "foo", ","],
    },
    "sweep": {
        "--out": ["OUT_CSV", "OUT_FOREIGN", "x.txt", "/nonexistent/dir/x.csv"],
        "--workers": NUMBERS,
        "--split-macs": NUMBERS,
        "--backend": ["c", "reference", "gpu"],
        "--scheduler": [""],
    },
    "plot": {},
}
POSITIONAL = {
    "report": ["resnet18", "resnet20", "nope"],
    "sweep": ["GRID_GOOD", "YAML_GARBAGE", "YAML_TAG", "GRID_FLOATS", "MISSING"],
    "plot": ["roofline resnet18 --out OUT_SVG", "sweep MISSING --out OUT_PNG", "flips --out x.gif"],
}
REQUIRED = {"accwidth": ["--k", "4", "--dots", "10"], "gates": ["--arch", "array"]}
BARE = {"--mac", "--no-sim", "--progress", "--no-progress", "--unsigned-activations", "--force"}
SWITCHES = {
    "gates": ["--mac"],
    "report": ["--no-sim", "--unsigned-activations"],
    "sweep": ["--force"],
    "flips": ["--progress", "--no-progress"],
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    content = {
        "YAML_GARBAGE": "conv1: [8\n  - : :\n",
        "YAML_TAG": "conv1: !!python/object/apply:os.system ['echo pwned']\n",
        "JSON_GARBAGE": "{not json",
        "GRID_GOOD": "kind: flips\nfixed: {n: 1000}\ngrid: {x_bits: [2, 3]}\n",
        "GRID_FLOATS": "kind: accwidth\nfixed: {k: 3.0e+1, dots: 1e2}\ngrid: {x_bits: [2]}\n",
        "NETLIST_GARBAGE": '{"modules": [1, 2]}',
        "NETLIST_NOBITS": '{"modules": {"top": {"ports": {"a": {"direction": "input"}}}}}',
        "OUT_FOREIGN": "a,b\n1,2\n",
    }
    paths = {}
    for key, text in content.items():
        path = d / (key.lower() + (".csv" if key == "OUT_FOREIGN" else ".txt"))
        path.write_text(text)
        paths[key] = str(path)
    for key, name in (("OUT_CSV", "out.csv"), ("OUT_TXT", "out.txt"), ("OUT_SVG", "r.svg")):
        paths[key] = str(d / name)
    paths["OUT_PNG"] = str(d / "p.png")
    paths["MISSING"] = str(d / "missing.yaml")
    return paths


@st.composite
def command_lines(draw):
    command = draw(st.sampled_from(sorted(FLAGS)))
    argv = [command]
    if command in POSITIONAL:
        argv += draw(st.sampled_from(POSITIONAL[command])).split()
    if command in REQUIRED and draw(st.booleans()):
        argv += REQUIRED[command]
    flags = FLAGS[command]
    for flag in draw(st.lists(st.sampled_from(sorted(flags)), max_size=4)) if flags else []:
        argv += [flag, draw(st.sampled_from(flags[flag]))]
    for switch in SWITCHES.get(command, []):
        if draw(st.booleans()):
            argv.append(switch)
    if command == "roofline" and draw(st.booleans()):
        argv += ["--area-mm2", "1", "--clock", "8e8"]
    return argv


class _Timeout:
    """SIGALRM after TIME_LIMIT_S calls the CLI's SIGINT handler in the main thread, as Ctrl-C
    does (not once the command has restored the previous handler)."""

    def __enter__(self):
        def interrupt(signum, frame):
            handler = signal.getsignal(signal.SIGINT)
            if handler is _on_sigint:
                handler(signal.SIGINT, frame)

        self.old = signal.signal(signal.SIGALRM, interrupt)
        signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT_S)

    def __exit__(self, *exc):
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self.old)


def run_cli(argv):
    """(exit status, stderr) of ``bitsim argv``, run in this process with a time limit."""
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        with _Timeout():
            try:
                status = main(argv)
            except SystemExit as e:
                status = e.code
    return status, err.getvalue()


@settings(max_examples=150)
@given(argv=command_lines())
def test_every_command_line_ends_cleanly(files, argv):
    argv = [files.get(a, a) for a in argv]
    status, err = run_cli(argv)
    lines = err.strip().splitlines()
    assert "Traceback" not in err, (argv, err)
    assert status in (0, 2, 130), (argv, status, err)
    if status == 2:
        assert len(lines) == 1 and "error:" in lines[0], (argv, err)
    if status == 130:
        assert lines[-1] == "bitsim: interrupted", (argv, err)
