"""An identity provider for tests: RSA and EC keys, its JWKS served over HTTP on this machine,
and tokens it signs."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

AUDIENCE = "caretrail-api"
ISSUER = "https://idp.test.invalid/"


class IdentityProvider:
    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.fetches = 0

    def jwks(self) -> dict[str, Any]:
        rsa_jwk = json.loads(RSAAlgorithm.to_jwk(self.rsa.public_key()))
        ec_jwk = json.loads(ECAlgorithm.to_jwk(self.ec.public_key()))
        return {
            "keys": [
                {**rsa_jwk, "kid": "rsa-1", "use": "sig", "alg": "RS256"},
                {**ec_jwk, "kid": "ec-1", "use": "sig", "alg": "ES256"},
            ]
        }

    def token(self, algorithm: str = "RS256", **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": "idp-user-1",
            "roles": ["DOCTOR"],
            "aud": AUDIENCE,
            "iss": ISSUER,
            "iat": now,
            "exp": now + 600,
            **overrides,
        }
        claims = {k: v for k, v in claims.items() if v is not None}
        key, kid = (self.rsa, "rsa-1") if algorithm == "RS256" else (self.ec, "ec-1")
        return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


@contextmanager
def serving(provider: IdentityProvider) -> Iterator[str]:
    """The provider's JWKS at http://127.0.0.1:<port>/jwks.json while the block runs."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            provider.fetches += 1
            body = json.dumps(provider.jwks()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    finally:
        server.shutdown()
        server.server_close()
