"""The bench's result: the JSON document and the table printed from it."""

from typing import Any

from bench import cpu

TARGETS = {
    "login_vs_argon2": 0.85,
    "me_vs_echo": 0.8,
    "refresh_vs_echo": 0.5,
    "users_list_vs_echo": 0.5,
}
MEMORY_LIMITS_MB = {"edge": 120.0, "worker": 300.0}


def ratios(floors: dict[str, float], scenarios: dict[str, dict[str, Any]]) -> dict[str, float]:
    def ratio(rps: float, floor: float) -> float:
        return round(_share(rps, floor), 3)

    echo = floors["rpc_echo_rps"]
    return {
        "login_vs_argon2": ratio(scenarios["login"]["rps"], floors["argon2_hashes_per_s"]),
        "me_vs_echo": ratio(scenarios["me"]["rps"], echo),
        "refresh_vs_echo": ratio(scenarios["refresh"]["rps"], echo),
        "users_list_vs_echo": ratio(scenarios["users_list"]["rps"], echo),
    }


def _share(value: float, of: float) -> float:
    return value / of if of > 0 else 0.0


def table(report: dict[str, Any], diagnostics: dict[str, Any]) -> str:
    floors, scenarios = report["floors"], report["scenarios"]
    lines = [
        f"{'floor':<24}{'value':>12}",
        f"{'argon2_hashes_per_s':<24}{floors['argon2_hashes_per_s']:>12.1f}",
        f"{'rpc_echo_rps':<24}{floors['rpc_echo_rps']:>12.1f}",
        f"{'rpc_echo_p50_ms':<24}{floors['rpc_echo_p50_ms']:>12.2f}",
        "",
        f"{'scenario':<14}{'rps':>10}{'p50_ms':>10}{'p99_ms':>10}{'errors':>8}",
    ]
    for name, s in scenarios.items():
        lines.append(
            f"{name:<14}{s['rps']:>10.1f}{s['p50_ms']:>10.2f}{s['p99_ms']:>10.2f}{s['errors']:>8}"
        )
    lines += ["", f"{'ratio':<22}{'value':>8}{'target':>9}  met"]
    for name, value in report["ratios"].items():
        target = TARGETS[name]
        lines.append(f"{name:<22}{value:>8.3f}{target:>9.2f}  {'yes' if value >= target else 'NO'}")
    lines += ["", f"{'memory_mb (peak RSS)':<22}{'value':>8}{'limit':>9}  met"]
    for name, value in report["memory_mb"].items():
        limit = MEMORY_LIMITS_MB[name]
        shown = "n/a" if value is None else f"{value:.1f}"
        met = "n/a" if value is None else ("yes" if value <= limit else "NO")
        lines.append(f"{name:<22}{shown:>8}{limit:>9.0f}  {met}")
    ceiling = diagnostics.get("ceiling_me")
    if ceiling is not None:
        echo, me = floors["rpc_echo_rps"], scenarios["me"]["rps"]
        lines += [
            "",
            "ceiling: me through the same stack with the least code (bench/ceiling.py)",
            f"{'me_ceiling_rps':<24}{ceiling['rps']:>12.1f}",
            f"{'me_ceiling_vs_echo':<24}{_share(ceiling['rps'], echo):>12.3f}",
            f"{'me_vs_ceiling':<24}{_share(me, ceiling['rps']):>12.3f}",
        ]
    cpu_ms = diagnostics["cpu_ms"]
    if cpu_ms:
        groups = [g for g in cpu.GROUPS if any(g in row for row in cpu_ms.values())]
        lines += ["", f"{'cpu ms per request':<20}" + "".join(f"{g:>12}" for g in groups)]
        for name, row in cpu_ms.items():
            cells = "".join(f"{row[g]:>12.3f}" if g in row else f"{'-':>12}" for g in groups)
            lines.append(f"{name:<20}{cells}")
    lines += ["", f"load generator: {diagnostics['load_generator']}"]
    return "\n".join(lines)
