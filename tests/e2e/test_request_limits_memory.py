"""The API process's memory stays flat while an unauthenticated caller streams a body far over
the limit: the real server (`caretrail serve`, uvicorn) over TCP, its resident memory sampled
while 256 MiB stream in chunked, and while a 2 GiB body is announced."""

from __future__ import annotations

import asyncio
import os
import sys
import time

import httpx
import psutil
from infra import free_port, ok, server_answer
from support import JWT_SECRET

STREAMED = 256 * 1024 * 1024
CHUNK = 1024 * 1024
ALLOWED_GROWTH = 32 * 1024 * 1024
"""Far below the body: what a 1 MiB limit, socket buffers and allocator noise may cost."""
RESET = b"(reset)"
"""What a refusal reads as when the server's close overtook its answer: it hung up with the
caller's bytes unread, so its kernel sent a reset, which can discard the 413 it had sent
before the client read it (a race the client loses on a busy machine)."""


async def _answer(reader: asyncio.StreamReader) -> bytes:
    """The status line, or RESET."""
    try:
        return await reader.readline()
    except ConnectionResetError:
        return RESET


async def _serve(owner_dsn: str, port: int) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "DATABASE_URL": owner_dsn,
        "CARETRAIL_JWT_SECRET": JWT_SECRET,
        "CARETRAIL_ENV": "test",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "CARETRAIL_REACTIONS_IN_API": "false",
    }
    env.pop("APP_DATABASE_URL", None)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "backend.cli",
        "serve",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _stream(port: int, process: psutil.Process) -> tuple[bytes, int, int]:
    """Streams a chunked body until the server answers or closes; the status line, the bytes
    sent and the peak resident memory seen meanwhile."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /v1/patients HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = f"{CHUNK:x}\r\n".encode() + b"x" * CHUNK + b"\r\n"
    sent, peak = 0, process.memory_info().rss
    answer = asyncio.create_task(_answer(reader))
    try:
        while sent < STREAMED:  # on, whatever the answer, until the server hangs up
            writer.write(chunk)
            await writer.drain()
            sent += CHUNK
            peak = max(peak, process.memory_info().rss)
        status = await asyncio.wait_for(answer, 30)
    except (ConnectionError, OSError):
        status = await asyncio.wait_for(answer, 30)
    finally:
        writer.close()
    peak = max(peak, process.memory_info().rss)
    return status, sent, peak


async def _announce(port: int, process: psutil.Process) -> tuple[bytes, int]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /v1/payments/webhook/fakepay HTTP/1.1\r\nHost: test\r\n"
        b"Content-Length: 2147483648\r\n\r\n" + b"x" * CHUNK
    )
    await writer.drain()
    status = await asyncio.wait_for(_answer(reader), 30)
    writer.close()
    return status, process.memory_info().rss


async def test_memory_stays_flat_while_an_oversized_body_streams_in(owner_dsn: str) -> None:
    port = free_port()
    server = await _serve(owner_dsn, port)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            started = await server_answer(client, "/health", settled=ok, seconds=30)
        assert started is not None and started.status_code == 200, "the server did not start"
        process = psutil.Process(server.pid)
        before = process.memory_info().rss
        started = time.perf_counter()
        status, sent, peak = await _stream(port, process)
        announced, after = await _announce(port, process)
        seconds = time.perf_counter() - started
        mib = 1024 * 1024
        print(
            f"MEMORY api rss before={before / mib:.1f} MiB peak={peak / mib:.1f} MiB"
            f" after={after / mib:.1f} MiB; streamed {sent / mib:.0f} MiB before the answer,"
            f" {seconds:.2f} s"
        )
        assert status.startswith(b"HTTP/1.1 413") or status == RESET, status
        assert sent < STREAMED  # refused long before the whole body: it was not read on
        assert announced.startswith(b"HTTP/1.1 413") or announced == RESET, announced
        assert peak - before < ALLOWED_GROWTH
        assert after - before < ALLOWED_GROWTH
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 20)
