"""Prints throughput (M MAC/s) and the speed-up over the numpy reference of the same group."""


def pytest_terminal_summary(terminalreporter, config):
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return
    groups = {}
    for bench in session.benchmarks:
        groups.setdefault(bench.group, []).append(bench)
    terminalreporter.section("MAC throughput (best round)")
    for group, benches in groups.items():
        ref = [b for b in benches if "reference" in b.name]
        ref_time = ref[0].stats.min if ref else None
        for b in benches:
            rate = b.extra_info.get("macs", 0) / b.stats.min / 1e6
            ratio = f"  {ref_time / b.stats.min:7.1f}x reference" if ref_time else ""
            terminalreporter.write_line(f"{group:45} {b.name:40} {rate:9.1f} M MAC/s{ratio}")
