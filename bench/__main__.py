"""`make bench` (python -m bench [--only append rebuild lag] ...)."""

from __future__ import annotations

import argparse
import os

import uvloop

from backend.bootstrap import configure
from backend.settings import Settings
from bench import access, api_keys, append, audit, http, kafka, projections, queue, search
from bench.common import BENCH_MASTER_KEY, bench_database, report
from projections.local_broker import local_kafka_broker


async def run(args: argparse.Namespace) -> None:
    if "http" in args.only:
        async with bench_database() as owner:
            await http.run(owner, args.http_seconds, args.rounds, args.connections)
    if "keys" in args.only:
        async with bench_database() as owner:
            await api_keys.run(owner, args.http_seconds, args.rounds, args.connections)
    if "append" in args.only:
        async with bench_database() as owner:
            await append.run(owner, args.seconds, args.rounds, args.writers)
    if "rebuild" in args.only:
        async with bench_database() as owner:
            await projections.rebuild_throughput(owner, args.patients, args.rounds)
    if "lag" in args.only:
        print(f"# lag: {args.rate:.0f} commands/s for {args.lag_seconds:.0f} s", flush=True)
        async with bench_database() as owner:
            raw_p50, raw_p99 = await projections.raw_commit_latency(
                owner, args.rate, args.lag_seconds
            )
        report("raw_insert_commit_p50", raw_p50, "ms", raw_p50)
        report("raw_insert_commit_p99", raw_p99, "ms", raw_p99)
        async with bench_database() as owner:
            consumers = projections.catch_up_consumers(owner)
            p50, p99 = await projections.read_model_lag(
                owner, args.rate, args.lag_seconds, consumers
            )
        report("lag_catchup_p50", p50, "ms", raw_p50)
        report("lag_catchup_p99", p99, "ms", raw_p99)
        await _kafka_lag(args, raw_p50, raw_p99)
    if "kafka" in args.only:
        await kafka.run(args.patients)
    if "as_of" in args.only:
        async with bench_database() as owner:
            await audit.as_of_latency(owner, args.stream_events, args.queries)
    if "search" in args.only:
        async with bench_database() as owner:
            await search.name_search_latency(owner, args.search_patients, args.queries)
    if "access" in args.only:
        async with bench_database() as owner:
            await access.read_cost(owner, args.seconds, args.rounds)
    if "queue" in args.only:
        async with bench_database() as owner:
            await queue.fan_out_latency(owner, args.check_ins)
    if "export" in args.only:
        async with bench_database() as owner:
            await audit.export_throughput(owner, args.export_events)


async def _kafka_lag(args: argparse.Namespace, raw_p50: float, raw_p99: float) -> None:
    with local_kafka_broker() as bootstrap:
        async with bench_database() as owner:
            consumers = projections.kafka_consumers(owner, bootstrap)
            p50, p99 = await projections.read_model_lag(
                owner, args.rate, args.lag_seconds, consumers
            )
    report("lag_kafka_p50", p50, "ms", raw_p50)
    report("lag_kafka_p99", p99, "ms", raw_p99)


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument(
        "--only",
        nargs="+",
        default=[
            *("http", "keys", "append", "rebuild", "lag", "kafka"),
            *("as_of", "search", "access", "queue", "export"),
        ],
    )
    parser.add_argument("--seconds", type=float, default=4.0, help="append: seconds per run")
    parser.add_argument("--rounds", type=int, default=3, help="append, rebuild: rounds (median)")
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument(
        "--http-seconds", type=float, default=10.0, help="http, keys: seconds per run"
    )
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 1], help="http, keys")
    parser.add_argument("--patients", type=int, default=20_000, help="rebuild: patients seeded")
    parser.add_argument("--rate", type=float, default=500.0, help="lag: commands per second")
    parser.add_argument("--lag-seconds", type=float, default=10.0)
    parser.add_argument("--stream-events", type=int, default=10_000, help="as_of: stream length")
    parser.add_argument(
        "--queries", type=int, default=200, help="as_of, search: queries of each kind"
    )
    parser.add_argument(
        "--search-patients", type=int, default=100_000, help="search: patients seeded"
    )
    parser.add_argument("--check-ins", type=int, default=200, help="queue: check-ins timed")
    parser.add_argument("--export-events", type=int, default=1_000_000)
    # The benches' own data, sealed with a key every server they start inherits.
    os.environ.setdefault("CARETRAIL_MASTER_KEY", BENCH_MASTER_KEY)
    # As every process starts: keys, and the plugins loaded now, not by the first batch of the
    # worklist projection inside a timed run (100-300 ms of the event loop, in the lag bench).
    configure(Settings(CARETRAIL_ENV="dev"))
    uvloop.run(run(parser.parse_args()))  # the API's event loop too


if __name__ == "__main__":
    main()
