"""The HTTP baseline: the least a FastAPI endpoint that records something can do.

`POST /v1/patients` decodes the bearer JWT (HS256), parses the JSON body and INSERTs one row in a
transaction through asyncpg, under uvicorn with uvloop and httptools, as `caretrail serve` runs.
`python -m bench.bare_endpoint` with BENCH_DSN, BENCH_JWT_SECRET and PORT.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import jwt
import orjson
import uvicorn
from fastapi import FastAPI, Request
from starlette.responses import Response

TABLE = "bench_bare_patients"
CREATE_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (id uuid PRIMARY KEY, tenant_id uuid, data jsonb)"
)


def create_app(dsn: str, secret: str) -> FastAPI:
    pool: list[asyncpg.Pool] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool.append(await asyncpg.create_pool(dsn, min_size=4, max_size=20))
        yield
        await pool[0].close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/patients")
    async def register(request: Request) -> Response:
        token = request.headers["authorization"].removeprefix("Bearer ")
        claims = jwt.decode(token, secret, algorithms=["HS256"])
        body = orjson.loads(await request.body())
        patient_id = uuid.uuid4()
        async with pool[0].acquire() as conn, conn.transaction():
            await conn.execute(
                f"INSERT INTO {TABLE} (id, tenant_id, data) VALUES ($1, $2, $3)",
                patient_id,
                uuid.UUID(claims["tid"]),
                orjson.dumps(body).decode(),
            )
        return Response(
            orjson.dumps({**body, "id": str(patient_id)}),
            status_code=201,
            media_type="application/json",
        )

    return app


def main() -> None:
    app = create_app(os.environ["BENCH_DSN"], os.environ["BENCH_JWT_SECRET"])
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(os.environ["PORT"]),
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
