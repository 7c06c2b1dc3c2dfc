"""Production refuses what is unsafe, and never shows a secret: `caretrail serve` as an operator
starts it, its output (stdout and stderr) searched for every secret it was given."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import sys
from pathlib import Path

import httpx
from infra import answered, empty_databases, free_port, server_answer

from backend.auth.tokens import issue_token
from backend.settings import DEV_JWT_SECRET, DEV_MASTER_KEY

JWT_SECRET = "operator-jwt-secret-7f3a9c1e5b2d8f4a6c0e"
MASTER_KEY = base64.b64encode(b"operator-master-key-32-bytes-ok!").decode()
METRICS_TOKEN = "operator-metrics-token-41d2"
WEBHOOK_SECRET = "operator-webhook-secret-93ab"
DB_PASSWORD = "operator-db-password-5e6f"
AUDIENCE, ISSUER = "caretrail-api", "https://login.example.org/"
CHAIN_KEY = base64.b64encode(secrets.token_bytes(32)).decode()
CHAIN_SIGNING_KEY = base64.b64encode(secrets.token_bytes(32)).decode()
SECRETS = (
    JWT_SECRET,
    MASTER_KEY,
    METRICS_TOKEN,
    WEBHOOK_SECRET,
    DB_PASSWORD,
    CHAIN_KEY,
    CHAIN_SIGNING_KEY,
)


def _with_password(dsn: str) -> str:
    """The DSN with a password (the local server trusts, so any password connects)."""
    scheme, rest = dsn.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user}:{DB_PASSWORD}@{host}"


def _production(**overrides: str) -> dict[str, str]:
    """An operator's environment: no CARETRAIL_ENV (production), every secret set."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CARETRAIL_", "DATABASE_URL", "APP_DATABASE_URL"))
    }
    env.update(
        CARETRAIL_JWT_SECRET=JWT_SECRET,
        CARETRAIL_MASTER_KEY=MASTER_KEY,
        CARETRAIL_METRICS_TOKEN=METRICS_TOKEN,
        CARETRAIL_PAYMENT_WEBHOOK_SECRETS=f'{{"fakepay": "{WEBHOOK_SECRET}"}}',
        CARETRAIL_JWT_AUDIENCE=AUDIENCE,
        CARETRAIL_JWT_ISSUER=ISSUER,
        CARETRAIL_CHAIN_KEY=CHAIN_KEY,
        CARETRAIL_CHAIN_SIGNING_KEY=CHAIN_SIGNING_KEY,
    )
    env.update(overrides)
    return {key: value for key, value in env.items() if value}


async def _serve(env: dict[str, str]) -> tuple[int | None, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "backend.cli",
        "serve",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 180)
    return proc.returncode, out.decode()


def _assert_no_secret(output: str) -> None:
    shown = [secret for secret in SECRETS if secret in output]
    assert not shown, f"secrets in the output: {shown}\n{output}"


async def test_without_a_database_url_production_refuses_to_start_an_embedded_one(
    tmp_path: Path,
) -> None:
    code, output = await _serve(_production(CARETRAIL_DATA_DIR=str(tmp_path / "data")))
    assert code == 2, output
    assert "DATABASE_URL is required unless CARETRAIL_ENV=dev" in output
    assert not (tmp_path / "data").exists()  # no server was started
    _assert_no_secret(output)


REFUSALS = [
    ({"CARETRAIL_JWT_SECRET": DEV_JWT_SECRET}, "public development secret"),
    ({"CARETRAIL_MASTER_KEY": DEV_MASTER_KEY}, "public development key"),
    ({"CARETRAIL_ENV": "test", "CARETRAIL_MASTER_KEY": ""}, "MASTER_KEY is required"),
    ({"CARETRAIL_JWT_SECRET": "x"}, "at least 32 characters"),
    ({"CARETRAIL_JWT_SECRET": "x" * 40}, "at least 8 different ones"),
    ({"CARETRAIL_MASTER_KEY": f"{WEBHOOK_SECRET}!"}, "MASTER_KEY is not base64"),
    ({"CARETRAIL_PAYMENT_WEBHOOK_SECRETS": f'{{"fakepay": "{WEBHOOK_SECRET}"'}, "parsing"),
    ({"PORT": DB_PASSWORD}, "PORT: Input should be a valid integer"),
]


async def test_unsafe_settings_are_refused_with_a_reason_and_no_secret(owner_dsn: str) -> None:
    runs = [_serve(_production(DATABASE_URL=_with_password(owner_dsn), **o)) for o, _ in REFUSALS]
    for (override, reason), (code, output) in zip(
        REFUSALS, await asyncio.gather(*runs), strict=True
    ):
        assert code == 2, (override, output)
        assert reason in output, (override, output)
        assert "Traceback" not in output
        _assert_no_secret(output)


async def test_a_running_server_logs_no_secret() -> None:
    async with empty_databases(1) as (dsn,):  # its own: the suite's data is sealed by another key
        await _serve_requests_and_check_the_output(dsn)


async def _serve_requests_and_check_the_output(dsn: str) -> None:
    port = free_port()
    env = _production(DATABASE_URL=_with_password(dsn), PORT=str(port))
    token = issue_token(
        JWT_SECRET, actor="ops", roles=["PLATFORM_ADMIN"], audience=AUDIENCE, issuer=ISSUER
    )
    forged = issue_token(DEV_JWT_SECRET, actor="x", roles=["PLATFORM_ADMIN"])
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "backend.cli",
        "serve",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            ready = await server_answer(client, settled=answered, seconds=120)
            assert ready is not None and ready.status_code == 200, ready and ready.text
            own = {"Authorization": f"Bearer {token}"}
            assert (await client.get("/v1/projections", headers=own)).status_code == 200
            forged_header = {"Authorization": f"Bearer {forged}"}
            assert (await client.get("/v1/projections", headers=forged_header)).status_code == 401
            metrics = await client.get("/metrics", headers={"Authorization": "Bearer wrong"})
            assert metrics.status_code in (401, 403)
            webhook = await client.post(
                "/v1/payments/webhook/fakepay", content=b"{}", headers={"X-Signature": "bad"}
            )
            assert webhook.status_code >= 400
    finally:
        proc.terminate()
        output, _ = await asyncio.wait_for(proc.communicate(), 15)
    text = output.decode()
    assert '"event": "request"' in text  # the requests above were logged
    _assert_no_secret(text)
    assert token not in text and forged not in text
