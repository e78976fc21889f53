"""Prints throughput (M MAC/s, M vectors/s) and the speed-up over the baseline of the same group:
the numpy reference, or the benchmark marked ``extra_info["baseline"]``."""


def pytest_terminal_summary(terminalreporter, config):
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return
    groups = {}
    for bench in session.benchmarks:
        groups.setdefault(bench.group, []).append(bench)
    terminalreporter.section("throughput (best round)")
    for group, benches in groups.items():
        ref = [b for b in benches if "reference" in b.name or b.extra_info.get("baseline")]
        for b in benches:
            info = b.extra_info
            if "verilator_vectors_per_s" in info:
                ours = info["bitsim_vectors_per_s"]
                terminalreporter.write_line(f"{group}: bitsim {ours / 1e6:.1f} M vectors/s")
                for mode, rate in info["verilator_vectors_per_s"].items():
                    terminalreporter.write_line(
                        f"  Verilator, {mode:28} {rate / 1e6:8.3f} M vectors/s, "
                        f"bitsim {ours / rate:6.0f}x"
                    )
                continue
            if "kernel_gate_evals_per_s" in info:
                for name, rate in info["kernel_gate_evals_per_s"].items():
                    terminalreporter.write_line(
                        f"{group}: {name:30} {rate['now'] / 1e9:7.1f} G gate evals/s, before "
                        f"{rate['before'] / 1e9:7.1f} G, {rate['now'] / rate['before']:5.2f}x"
                    )
                continue
            if "iverilog_vectors_per_s" in info:
                ive = info["iverilog_vectors_per_s"]
                terminalreporter.write_line(f"{group}: iverilog {ive / 1e3:.1f} k vectors/s")
                for key, rate in info.items():
                    if key.endswith("_vectors_per_s") and key != "iverilog_vectors_per_s":
                        terminalreporter.write_line(
                            f"  {key[: -len('_vectors_per_s')]:12} {rate / 1e6:8.2f} M "
                            f"vectors/s, {rate / ive:6.0f}x iverilog"
                        )
                continue
            unit, count = ("MAC", info["macs"]) if "macs" in info else ("vectors", info["vectors"])
            rate = count / b.stats.min
            ratio = ""
            if ref:
                ref_rate = (
                    ref[0].extra_info.get("macs", ref[0].extra_info.get("vectors", 0))
                    / ref[0].stats.min
                )
                ratio = f"  {rate / ref_rate:7.2f}x {ref[0].name}"
            gates = f", {rate * info['gates'] / 1e9:.1f} G gate evals/s" if "gates" in info else ""
            # CPU time of every thread, and of the busiest worker thread (bench/test_bench_mac.py)
            for key, label in (("cpu_s", "every thread"), ("busiest_cpu_s", "busiest thread")):
                if key in info:
                    cpu_rate, label = count / info[key], f"  (CPU time, {label})"
                    ratio += f"\n{'':45} {label:32} {cpu_rate / 1e6:9.1f} M {unit}/s"
                    if ref and key in ref[0].extra_info:
                        ref_cpu = ref[0].extra_info["macs"] / ref[0].extra_info[key]
                        ratio += f"  {cpu_rate / ref_cpu:7.2f}x"
            terminalreporter.write_line(
                f"{group:45} {b.name:32} {rate / 1e6:9.1f} M {unit}/s{gates}{ratio}"
            )
