"""The ``idp`` console script: edge, worker, migrate, dev, asyncapi, bench."""

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Sequence

from contracts.actions import FAMILIES
from idp.logs import configure_logging
from idp.preflight import StartupFailure
from idp.settings import load_settings


def _families(value: str) -> tuple[str, ...]:
    chosen = tuple(f.strip() for f in value.split(",") if f.strip())
    unknown = sorted(set(chosen) - set(FAMILIES))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"families must be among {','.join(FAMILIES)}")
    return chosen


def _between(
    low: float, high: float, kind: type[int] | type[float] = int
) -> Callable[[str], int | float]:
    """An argparse type: a number of ``kind`` from ``low`` to ``high``, or one clear
    usage error (not a traceback from deep inside the broker client)."""

    def parse(value: str) -> int | float:
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"must be from {low:g} to {high:g}")
        return number

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="idp",
        description="Multi-tenant identity platform",
        epilog="Settings come from the environment (.env.example lists each one); scripts/run"
        " reads .env, or .env.example's development values.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "edge",
        help="run the HTTP edge",
        description="Serve the HTTP API on EDGE_HOST:EDGE_PORT: verify tokens, publish each"
        " request to RabbitMQ, answer with the worker's reply.",
    )
    worker = commands.add_parser("worker", help="run workers consuming the request queues")
    worker.add_argument(
        "--families",
        type=_families,
        default=FAMILIES,
        help=f"comma-separated families to serve (default {','.join(FAMILIES)})",
    )
    worker.add_argument(
        "--concurrency",
        type=_between(1, 1000),  # WORKER_PREFETCH's bounds
        default=None,
        help="messages in flight per family, 1 to 1000 (default WORKER_PREFETCH)",
    )
    commands.add_parser(
        "migrate",
        help="create roles and database where allowed, then migrate",
        description="Create the owner and application roles and the database where"
        " DATABASE_ADMIN_URL may, then run the Alembic migrations as the owner.",
    )
    dev = commands.add_parser("dev", help="migrate, then run an edge, a worker and local S3")
    dev.add_argument(
        "--workers", type=_between(1, 64), default=1, help="worker processes (default 1)"
    )
    bench = commands.add_parser("bench", help="measure the platform against its floors")
    bench.add_argument(
        "--duration", type=_between(1, 3600, float), default=20.0, help="seconds per measurement"
    )
    bench.add_argument(
        "--concurrency", type=_between(1, 1000), default=64, help="requests in flight"
    )
    bench.add_argument("--json", dest="json_path", default=None, help="write the results here")
    bench.add_argument("--url", default=None, help="measure this edge instead of starting one")
    bench.add_argument(
        "--load",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator: wrk (C), or the multi-process Python client; auto = wrk if installed",
    )
    asyncapi = commands.add_parser("asyncapi", help="write the AsyncAPI document of the messages")
    asyncapi.add_argument("--output", "-o", default="-", help="file path, or - for stdout")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "asyncapi":  # needs no configuration: it documents the contracts
        _write_asyncapi(args.output)
        return
    settings = load_settings()
    configure_logging(settings.log_level)
    try:
        if args.command == "migrate":
            from idp.bootstrap import migrate

            asyncio.run(migrate(settings))
            logging.getLogger("idp.migrate").info("database is at the latest revision")
        elif args.command == "edge":
            from edge.app import run_edge

            run_edge(settings)
        elif args.command == "worker":
            from workers.app import run_worker

            run_worker(settings, families=args.families, concurrency=args.concurrency)
        elif args.command == "dev":
            from idp.dev import run_dev

            raise SystemExit(run_dev(settings, workers=args.workers))
        elif args.command == "bench":
            from pathlib import Path

            from bench.run import Options, run_bench

            json_path = Path(args.json_path) if args.json_path else None
            options = Options(args.duration, args.concurrency, json_path, args.url, args.load)
            raise SystemExit(run_bench(settings, options))
    except StartupFailure as exc:
        print(f"idp: {exc}", file=sys.stderr)
        raise SystemExit(3) from None
    except KeyboardInterrupt:
        pass


def _write_asyncapi(output: str) -> None:
    import orjson

    from idp.asyncapi import build_asyncapi

    document = orjson.dumps(build_asyncapi(), option=orjson.OPT_INDENT_2) + b"\n"
    if output == "-":
        sys.stdout.buffer.write(document)
    else:
        try:
            with open(output, "wb") as target:
                target.write(document)
        except OSError as exc:
            print(f"idp: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
            raise SystemExit(2) from None
