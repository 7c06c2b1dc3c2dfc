"""`caretrail`: serve the API, migrate, run reactions, mint development tokens."""

from __future__ import annotations

import argparse
import asyncio
import sys
from uuid import UUID

from backend.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="caretrail")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the API on HOST:PORT")
    serve.add_argument("--workers", type=int, default=1)
    sub.add_parser("migrate", help="apply migrations to DATABASE_URL")
    sub.add_parser("relay", help="publish the event store to Kafka (KAFKA_BOOTSTRAP_SERVERS)")
    sub.add_parser("project", help="run every projection from Kafka (KAFKA_BOOTSTRAP_SERVERS)")
    token = sub.add_parser("token", help="mint a JWT for local use (dev secret unless set)")
    token.add_argument("--role", action="append", required=True)
    token.add_argument("--tenant", type=UUID)
    token.add_argument("--actor", default="dev-user")
    token.add_argument("--ttl", type=int, default=3600)
    from backend.audit import cli as audit_cli
    from backend.reactions import cli as reactions_cli
    from projections import cli as projections_cli

    projections_cli.add_commands(sub)
    audit_cli.add_commands(sub)
    reactions_cli.add_commands(sub)
    args = parser.parse_args(argv)

    settings = Settings()
    from backend.privacy import keys

    keys.configure(settings.master_key_bytes)
    if args.command == "serve":
        return _serve(settings)
    if args.command == "migrate":
        return _migrate(settings)
    if args.command == "projections":
        return asyncio.run(projections_cli.run(settings, args))
    if args.command == "audit":
        return asyncio.run(audit_cli.run(settings, args))
    if args.command == "reactions":
        return _reactions(settings, args)
    if args.command in ("relay", "project"):
        return _kafka_process(settings, args.command)
    from backend.auth.tokens import issue_token

    print(
        issue_token(
            settings.effective_jwt_secret,
            actor=args.actor,
            roles=args.role,
            tenant_id=args.tenant,
            ttl_seconds=args.ttl,
        )
    )
    return 0


def _serve(settings: Settings) -> int:
    import uvicorn

    from backend.bootstrap import create_app
    from backend.observability import configure_logging

    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )
    return 0


def _kafka_process(settings: Settings, command: str) -> int:
    import uvloop

    from backend.observability import configure_logging
    from projections.processes import run_projector, run_relay

    configure_logging(settings.log_level)
    uvloop.run(run_relay(settings) if command == "relay" else run_projector(settings))
    return 0


def _reactions(settings: Settings, args: argparse.Namespace) -> int:
    from backend.observability import configure_logging
    from backend.reactions.cli import run as run_reactions

    configure_logging(settings.log_level)
    return asyncio.run(run_reactions(settings, args))


def _migrate(settings: Settings) -> int:
    from backend.eventstore.migrate import upgrade_to_head

    if not settings.database_url:
        print("DATABASE_URL is not set", file=sys.stderr)
        return 2
    asyncio.run(upgrade_to_head(settings.database_url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
