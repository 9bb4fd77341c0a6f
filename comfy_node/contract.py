"""What the node and its clients (VCC UI, the VCC simulator) agree on: the hash routes and their answers.

Standard library only, so a client can import it without ComfyUI.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from urllib.parse import quote

VERSION = '1.0.0'
PING_PATH = '/api/vcc/lora-hash/ping'
HASH_PATH = '/api/vcc/lora-hash/{filename}'
HASH_ROUTE = '/api/vcc/lora-hash/{filename:.+}'  # the aiohttp pattern of HASH_PATH: the name may hold slashes


def hash_path(filename: str) -> str:
    """Return the path that asks for one LoRA's hash, the name URL-encoded (its slashes kept)."""
    return HASH_PATH.format(filename=quote(filename, safe='/'))


@dataclass(frozen=True, slots=True)
class PingAnswer:
    """`GET PING_PATH`: the node is installed, its version, cache size and hashes under way."""

    ok: bool
    version: str
    cache_entries: int
    hashing: int

    def to_json(self) -> dict[str, object]:
        """Return the JSON body."""
        return asdict(self)

    @classmethod
    def from_json(cls, body: object) -> PingAnswer | None:
        """Read a ping answer; None unless it says ok."""
        if not isinstance(body, dict) or not body.get('ok'):
            return None
        return cls(
            ok=True,
            version=str(body.get('version') or ''),
            cache_entries=_int(body.get('cache_entries')),
            hashing=_int(body.get('hashing')),
        )


@dataclass(frozen=True, slots=True)
class HashAnswer:
    """`GET hash_path(name)`: the listed name, lower-case hex SHA256, size and mtime, and whether it was cached."""

    filename: str
    sha256: str
    size: int
    mtime: float
    mtime_ns: int
    cached: bool

    def to_json(self) -> dict[str, object]:
        """Return the JSON body."""
        return asdict(self)

    @classmethod
    def from_json(cls, body: object) -> HashAnswer | None:
        """Read a hash answer; None when the body has no SHA256."""
        if not isinstance(body, dict) or not isinstance(body.get('sha256'), str):
            return None
        mtime = body.get('mtime')
        return cls(
            filename=str(body.get('filename') or ''),
            sha256=body['sha256'].lower(),
            size=_int(body.get('size')),
            mtime=float(mtime) if isinstance(mtime, int | float) and not isinstance(mtime, bool) else 0.0,
            mtime_ns=_int(body.get('mtime_ns')),
            cached=bool(body.get('cached')),
        )


def error_body(message: str, filename: str) -> dict[str, object]:
    """Return the JSON body of a refused or failed hash request (400, 404 or 500)."""
    return {'error': message, 'filename': filename}


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0
