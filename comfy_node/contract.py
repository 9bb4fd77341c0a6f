"""What the node and its clients (VCC UI, the VCC simulator) agree on: the hash routes and their answers, and how
Civitai's answers are read (the node and VCC UI both look LoRAs up there).

Standard library only, so a client can import it without ComfyUI.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from urllib.parse import quote

# the node's routes -------------------------------------------------------------------------------------------------

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


# Civitai answers ---------------------------------------------------------------------------------------------------

CIVITAI_SITE = 'https://civitai.com'
CIVITAI_BY_HASH_PATH = '/api/v1/model-versions/by-hash'  # GET .../{sha256}, or POST a list of at most 100
CIVITAI_BY_HASH_BATCH = 100
CIVITAI_MODEL_PATH = '/api/v1/models/{model_id}'
MAX_PREVIEWS = 10


def civitai_by_hash_path(sha256: str) -> str:
    """Return the path that looks one file up by its SHA256."""
    return f'{CIVITAI_BY_HASH_PATH}/{sha256}'


def civitai_model_path(model_id: int) -> str:
    """Return the path of one model (description, tags, creator)."""
    return CIVITAI_MODEL_PATH.format(model_id=int(model_id))


def civitai_page_url(model_id: int | None, version_id: int | None) -> str | None:
    """Return the Civitai page of a model version, or None without a model id."""
    return f'{CIVITAI_SITE}/models/{model_id}?modelVersionId={version_id}' if model_id else None


@dataclass(frozen=True, slots=True)
class CivitaiVersionInfo:
    """A model-version answer (by-hash lookups): ids, names, trigger words and preview images, safest first."""

    version_id: int | None = None
    model_id: int | None = None
    model_name: str | None = None
    version_name: str | None = None
    base_model: str | None = None
    description: str | None = None
    trigger_words: list[str] = field(default_factory=list)
    image_urls: list[str] = field(default_factory=list)
    nsfw: bool | None = None
    stats: dict[str, object] = field(default_factory=dict)
    hashes: frozenset[str] = frozenset()  # lower-case SHA256 of its files

    @property
    def page_url(self) -> str | None:
        """Return its Civitai page."""
        return civitai_page_url(self.model_id, self.version_id)


@dataclass(frozen=True, slots=True)
class CivitaiModelInfo:
    """A model answer: what its versions share (name, description, tags, creator, nsfw)."""

    name: str | None = None
    description: str | None = None
    nsfw: bool | None = None
    tags: list[str] = field(default_factory=list)
    creator: str | None = None

    def to_record(self) -> dict[str, object]:
        """Return it as a JSON object (a cache record)."""
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, object]) -> CivitaiModelInfo:
        """Read a record written by to_record."""
        tags, nsfw = record.get('tags'), record.get('nsfw')
        return cls(
            name=_text(record.get('name')),
            description=_text(record.get('description')),
            nsfw=nsfw if isinstance(nsfw, bool) else None,
            tags=[tag for tag in tags if isinstance(tag, str)] if isinstance(tags, list) else [],
            creator=_text(record.get('creator')),
        )


def parse_version(version: dict[str, object]) -> CivitaiVersionInfo:
    """Read a model-version object: preview images are still images only, safest (lowest nsfwLevel) first."""
    summary = _dict(version.get('model'))
    images = sorted((image for image in _list(version.get('images')) if isinstance(image, dict)), key=_nsfw_level)
    nsfw = summary.get('nsfw')
    return CivitaiVersionInfo(
        version_id=_id(version.get('id')),
        model_id=_id(version.get('modelId')),
        model_name=_text(summary.get('name')),
        version_name=_text(version.get('name')),
        base_model=_text(version.get('baseModel')),
        description=_text(version.get('description')) or None,
        trigger_words=[
            word.strip() for word in _list(version.get('trainedWords')) if isinstance(word, str) and word.strip()
        ],
        image_urls=[
            image['url']
            for image in images
            if isinstance(image.get('url'), str) and image.get('type', 'image') == 'image'
        ][:MAX_PREVIEWS],
        nsfw=nsfw if isinstance(nsfw, bool) else None,
        stats=_dict(version.get('stats')),
        hashes=frozenset(_file_hashes(version.get('files'))),
    )


def parse_model(model: dict[str, object]) -> CivitaiModelInfo:
    """Read a model object; tags may come as names or as {"name": ...} objects."""
    nsfw = model.get('nsfw')
    tags = [tag.get('name') if isinstance(tag, dict) else tag for tag in _list(model.get('tags'))]
    return CivitaiModelInfo(
        name=_text(model.get('name')),
        description=_text(model.get('description')) or None,
        nsfw=nsfw if isinstance(nsfw, bool) else None,
        tags=[str(tag) for tag in tags if isinstance(tag, str | int) and not isinstance(tag, bool) and str(tag)],
        creator=_text(_dict(model.get('creator')).get('username')),
    )


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _id(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: object) -> str | None:
    return str(value) if value is not None else None


def _file_hashes(files: object) -> list[str]:
    shas = [_dict(_dict(file).get('hashes')).get('SHA256') for file in _list(files)]
    return [sha.lower() for sha in shas if isinstance(sha, str)]


def _nsfw_level(image: dict[str, object]) -> int:
    level = image.get('nsfwLevel')
    return level if isinstance(level, int) else 0


def _dict(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []
