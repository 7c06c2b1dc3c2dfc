"""`caretrail`: serve the API, migrate, run reactions, mint development tokens."""

from __future__ import annotations

import argparse
import asyncio
import sys
from uuid import UUID

import pydantic
from pydantic_settings import SettingsError

from backend.settings import Settings, SettingsRefused


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="caretrail")
    sub = parser.add_subparsers(dest="command", required=True)
    # One process per `serve`: run more of them (behind a load balancer) to use more cores.
    sub.add_parser("serve", help="serve the API on HOST:PORT")
    sub.add_parser("migrate", help="apply migrations to DATABASE_URL")
    sub.add_parser("openapi", help="print the OpenAPI document that /openapi.json serves")
    sub.add_parser("relay", help="publish the event store to Kafka (KAFKA_BOOTSTRAP_SERVERS)")
    sub.add_parser("project", help="run every projection from Kafka (KAFKA_BOOTSTRAP_SERVERS)")
    token = sub.add_parser("token", help="mint a JWT for local use (dev secret unless set)")
    token.add_argument("--role", action="append", required=True)
    token.add_argument("--tenant", type=UUID)
    token.add_argument("--actor", default="dev-user")
    token.add_argument("--ttl", type=int, default=3600)
    from backend.cli import alive as alive_cli
    from backend.cli import audit as audit_cli
    from backend.cli import demo as demo_cli
    from backend.cli import projections as projections_cli
    from backend.cli import reactions as reactions_cli
    from backend.cli import restore as restore_cli
    from backend.cli import webhooks as webhooks_cli

    projections_cli.add_commands(sub)
    restore_cli.add_commands(sub)
    audit_cli.add_commands(sub)
    reactions_cli.add_commands(sub)
    webhooks_cli.add_commands(sub)
    demo_cli.add_commands(sub)
    alive_cli.add_commands(sub)
    args = parser.parse_args(argv)
    try:
        settings = _settings()
        return _run(settings, args)
    except SettingsRefused as e:
        print(f"caretrail: {e}", file=sys.stderr)
        return 2


def _settings() -> Settings:
    """The settings, or SettingsRefused naming each bad setting and why, without its value:
    pydantic's own message repeats the input, and the input here is the environment's secrets."""
    try:
        return Settings()
    except pydantic.ValidationError as e:
        reasons = [
            ": ".join([*map(str, error["loc"][:1]), error["msg"].removeprefix("Value error, ")])
            for error in e.errors(include_url=False, include_input=False, include_context=False)
        ]
        raise SettingsRefused("; ".join(reasons)) from None
    except SettingsError as e:
        raise SettingsRefused(str(e)) from None


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from backend.cli import alive as alive_cli
    from backend.cli import audit as audit_cli
    from backend.cli import demo as demo_cli
    from backend.cli import projections as projections_cli
    from backend.cli import restore as restore_cli
    from backend.privacy import keys

    keys.configure(settings.master_key_bytes)
    if args.command == "serve":
        return _serve(settings)
    if args.command == "migrate":
        return _migrate(settings)
    if args.command == "openapi":
        return _openapi(settings)
    if args.command == "demo":
        try:
            return demo_cli.run(settings, args)
        except demo_cli.DemoFailed as e:
            print(f"demo: {e}", file=sys.stderr)
            return 1
    if args.command == "roles":
        return asyncio.run(restore_cli.roles(settings))
    if args.command == "restore":
        return asyncio.run(restore_cli.finish(settings))
    if args.command == "projections":
        return asyncio.run(projections_cli.run(settings, args))
    if args.command == "audit":
        return asyncio.run(audit_cli.run(settings, args))
    if args.command == "alive":
        return asyncio.run(alive_cli.run(settings, args))
    if args.command == "reactions":
        return _reactions(settings, args)
    if args.command == "webhooks":
        return _webhooks(settings)
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
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
        )
    )
    return 0


def _serve(settings: Settings) -> int:
    import uvicorn

    from backend.bootstrap import create_app
    from backend.observability import configure_logging

    settings.require_database_outside_dev()
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,  # uvicorn's own lines go through our JSON handler
        log_level="warning",
    )
    return 0


def _openapi(settings: Settings) -> int:
    """The document as the app serves it in this environment (dev adds the dev sign-in), built
    without a database: the web app's typed client is generated from it."""
    import contextlib
    import json

    from backend.bootstrap import create_app

    with contextlib.redirect_stdout(sys.stderr):  # the start-up log lines
        document = create_app(settings).openapi()
    print(json.dumps(document, indent=2, sort_keys=True))
    return 0


def _kafka_process(settings: Settings, command: str) -> int:
    import uvloop

    from backend.observability import configure_logging, configure_tracing
    from backend.processes import run_projector, run_relay

    configure_logging(settings.log_level)
    configure_tracing(f"caretrail-{command}")
    uvloop.run(run_relay(settings) if command == "relay" else run_projector(settings))
    return 0


def _reactions(settings: Settings, args: argparse.Namespace) -> int:
    from backend.cli.reactions import run as run_reactions
    from backend.observability import configure_logging, configure_tracing

    configure_logging(settings.log_level)
    configure_tracing("caretrail-reactions")
    return asyncio.run(run_reactions(settings, args))


def _webhooks(settings: Settings) -> int:
    from backend.cli.webhooks import run as run_webhooks
    from backend.observability import configure_logging, configure_tracing

    configure_logging(settings.log_level)
    configure_tracing("caretrail-webhooks")
    return asyncio.run(run_webhooks(settings))


def _migrate(settings: Settings) -> int:
    from backend.eventstore.migrate import MigrationFailed, upgrade_to_head

    if not settings.database_url:
        print("DATABASE_URL is not set", file=sys.stderr)
        return 2
    try:
        owner = settings.database_url
        asyncio.run(upgrade_to_head(owner, settings.projector_dsn(owner)))
    except MigrationFailed as e:
        print(str(e), file=sys.stderr)
        return 1
    return 0
