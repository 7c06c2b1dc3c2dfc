"""Signed heads of the tenant chains, kept outside the database (CARETRAIL_CHAIN_HEADS_DIR).

A head says: this tenant's chain had `seq` links, the last being `link`, and the first
`unmarked_until` events of the store predate writers' marks. It is signed with Ed25519 under a
key the database never sees, and written as one file per head,
`<dir>/<tenant_id>/<seq, 20 digits>.json`, so an object store or a write-once bucket can take the
directory as it is. Whoever controls the database can cut a chain's tail (the links before the
cut stay valid) or restore an old backup; a head signed before that shows it.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


@dataclass(frozen=True)
class Head:
    tenant_id: UUID
    seq: int
    link: bytes
    position: int
    recorded_at: dt.datetime
    unmarked_until: int
    signed_at: dt.datetime

    def statement(self) -> bytes:
        """The bytes signed."""
        return orjson.dumps(
            {
                "tenant_id": str(self.tenant_id),
                "seq": self.seq,
                "link": self.link.hex(),
                "position": self.position,
                "recorded_at": self.recorded_at.isoformat(),
                "unmarked_until": self.unmarked_until,
                "signed_at": self.signed_at.isoformat(),
            },
            option=orjson.OPT_SORT_KEYS,
        )


@dataclass(frozen=True)
class ReadHead:
    head: Head | None
    """None when the file's signature does not hold (or it does not parse)."""
    file: str


class HeadBook:
    """The directory of signed heads, with the signing key (writers) or only its public half."""

    def __init__(
        self, directory: str | Path, private: Ed25519PrivateKey | None, public: Ed25519PublicKey
    ) -> None:
        self.directory = Path(directory)
        self._private = private
        self._public = public

    @classmethod
    def from_seed(cls, directory: str | Path, seed: bytes) -> HeadBook:
        private = Ed25519PrivateKey.from_private_bytes(seed)
        return cls(directory, private, private.public_key())

    def write(self, head: Head) -> Path:
        """Written whole or not at all (a temporary file renamed into place)."""
        if self._private is None:
            raise RuntimeError("this head book has no signing key")
        statement = head.statement()
        signed = orjson.loads(statement) | {
            "signature": base64.b64encode(self._private.sign(statement)).decode()
        }
        folder = self.directory / str(head.tenant_id)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{head.seq:020d}.json"
        fd, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(orjson.dumps(signed, option=orjson.OPT_INDENT_2))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
        return target

    def files(self, tenant_id: UUID) -> list[Path]:
        """The tenant's head files, oldest first."""
        folder = self.directory / str(tenant_id)
        if not folder.is_dir():
            return []
        return sorted(folder.glob("*.json"))

    def read(self, path: Path) -> ReadHead:
        try:
            raw = orjson.loads(path.read_bytes())
            head = Head(
                UUID(raw["tenant_id"]),
                int(raw["seq"]),
                bytes.fromhex(raw["link"]),
                int(raw["position"]),
                dt.datetime.fromisoformat(raw["recorded_at"]),
                int(raw["unmarked_until"]),
                dt.datetime.fromisoformat(raw["signed_at"]),
            )
            self._public.verify(base64.b64decode(raw["signature"]), head.statement())
        except (InvalidSignature, ValueError, KeyError, TypeError):
            return ReadHead(None, path.name)
        return ReadHead(head, path.name)
