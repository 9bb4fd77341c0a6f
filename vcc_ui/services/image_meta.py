"""Plain values of the image index: views, filters, errors, quota usage, tags, and the sidecar <-> row mapping."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import PurePosixPath
from typing import Annotated, Any, Self
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, PlainSerializer

from vcc_ui.models import Image
from vcc_ui.services.storage import IMAGE_ID_RE, ImageRejected, Storage

MAX_TAGS = 20
MAX_TAG_LEN = 32
_TAG_BAD = re.compile(r'["\\\x00-\x1f\x7f,]')
NAME_WORDS = 6
NAME_WORDS_CHARS = 60
_WORD = re.compile(r'[^\W_]+')
# Mutable fields a sidecar mirrors; everything else in it is fixed when the file is saved.
MUTABLE = ('status', 'trashed_at', 'tags', 'favorite')
ROW_FIELDS = (
    'workflow_id',
    'mode',
    'prompt',
    'negative_prompt',
    'seed',
    'aspect_ratio',
    'job_id',
    'server',
    'original_filename',
    'prompt_original',
    'negative_prompt_original',
    'llm_action',
)


# A moment that JSON shows as datetime.isoformat() ('+00:00', not pydantic's 'Z'), like the API always did.
IsoTime = Annotated[datetime, PlainSerializer(lambda when: when.isoformat(), return_type=str, when_used='json')]


class ImageView(BaseModel):
    """An image as the pages and the REST API show it; the field names are the JSON keys of the API."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: str
    url: str
    thumb_url: str | None
    mime: str
    bytes: int
    width: int
    height: int
    sha256: str
    created_at: IsoTime
    status: str
    workflow_id: str | None
    mode: str | None
    prompt: str | None
    negative_prompt: str | None
    seed: int | None
    aspect_ratio: str | None
    job_id: str | None
    server: str | None
    tags: list[str]
    favorite: bool
    original_filename: str | None
    prompt_original: str | None = None
    negative_prompt_original: str | None = None
    llm_action: str | None = None
    trashed_at: IsoTime | None
    purge_at: IsoTime | None  # when a trashed image is removed for good
    params: dict | None = None  # every parameter the job was built from, with the workflow's version

    @classmethod
    def of(cls, row: Image, *, purge_at: datetime | None = None) -> Self:
        """Return the view of an image row."""
        copied = {name: getattr(row, name) for name in cls.model_fields if name not in _DERIVED}
        thumb_url = Storage.url(row.thumb_path) if row.thumb_path else None
        return cls(url=Storage.url(row.rel_path), thumb_url=thumb_url, purge_at=purge_at, **copied)


class AdminImageView(ImageView):
    """An image as admins see it: with its owner."""

    owner: str


_DERIVED = frozenset({'url', 'thumb_url', 'purge_at'})


class ImageProblem(Exception):
    """A user-caused problem with an image request; `code` picks the HTTP status, `message` is shown to users."""

    code = 'invalid'

    def __init__(self, code: str | None = None, message: str = '') -> None:
        self.code = code or type(self).code
        self.message = message or 'The request is not valid.'
        super().__init__(self.message)


class ImageNotFound(ImageProblem):
    """No such image for this user (also for other users' ids)."""

    code = 'not_found'

    def __init__(self, message: str = 'No such image.') -> None:
        super().__init__('not_found', message)


class QuotaExceeded(ImageProblem):
    """The user is over their storage quota; the message says what to delete."""

    code = 'quota'

    def __init__(self, message: str) -> None:
        super().__init__('quota', message)


class UploadRejected(ImageRejected):
    """An upload that is not an acceptable image; `code` is too_large | not_an_image | type_not_allowed | bomb."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code


@dataclass(kw_only=True, slots=True)
class ImageFilter:
    """What a listing shows; None means no restriction."""

    from_date: date | None = None
    to_date: date | None = None
    aspect_ratio: str | None = None
    workflow_id: str | None = None
    tag: str | None = None
    favorite: bool | None = None
    q: str | None = None
    kind: str | tuple[str, ...] | None = None
    status: str | None = 'active'

    @property
    def narrowed(self) -> bool:
        """Whether the filter hides some images of its kind and status (a search, a date, a tag, favourites...)."""
        values = (self.from_date, self.to_date, self.aspect_ratio, self.workflow_id, self.tag, self.favorite, self.q)
        return any(value not in (None, '') for value in values)


def human_bytes(n: int) -> str:
    """Return a size like '1.5 MB'."""
    size = float(n)
    for unit in ('bytes', 'KB', 'MB', 'GB'):
        if size < 1024 or unit == 'GB':
            return f'{int(size)} {unit}' if unit == 'bytes' else f'{size:.1f} {unit}'
        size /= 1024
    return f'{size:.1f} GB'


@dataclass(kw_only=True, slots=True)
class Usage:
    """What a user's active images use, with the limits that apply (0 = unlimited); trash does not count."""

    bytes: int
    images: int
    max_bytes: int
    max_images: int
    trash_bytes: int = 0
    trash_images: int = 0

    def refusal(self, *, add_bytes: int, add_images: int) -> str | None:
        """Why adding this much is refused (saying how much to delete), or None."""
        over_images = self.images + add_images - self.max_images if self.max_images else 0
        over_bytes = self.bytes + add_bytes - self.max_bytes if self.max_bytes else 0
        if over_images <= 0 and over_bytes <= 0:
            return None
        used = []
        if self.max_images:
            used.append(f'{self.images} of {self.max_images} images')
        if self.max_bytes:
            used.append(f'{human_bytes(self.bytes)} of {human_bytes(self.max_bytes)}')
        needs = []
        if over_images > 0:
            needs.append(f'at least {over_images} image{"s" if over_images != 1 else ""}')
        if over_bytes > 0:
            needs.append(f'at least {human_bytes(over_bytes)}')
        return (
            f'Your storage is full ({" and ".join(used)} used). Delete {" and ".join(needs)} '
            'from your gallery or inputs to continue.'
        )


_REJECTIONS = {
    'too large': ('too_large', 'The file is too large: the limit is {limit}.'),
    'type not allowed': ('type_not_allowed', 'Only PNG, JPEG and WEBP images are accepted.'),
    'decompression bomb': ('bomb', 'The image has too many pixels to be processed safely.'),
    'not an image': ('not_an_image', 'The file is not a readable PNG, JPEG or WEBP image.'),
}


def rejected(reason: str, limit: int) -> UploadRejected:
    """Turn a storage rejection reason into an UploadRejected with a message for users."""
    code, message = _REJECTIONS.get(reason, ('not_an_image', _REJECTIONS['not an image'][1]))
    return UploadRejected(code, message.format(limit=human_bytes(limit)))


def clean_filename(name: object) -> str:
    """Return an uploaded file's name as harmless display text (it never becomes a path)."""
    text = str(name or '').replace('\\', '/').rsplit('/', 1)[-1]
    text = ''.join(ch for ch in text if ch.isprintable()).strip()
    return text[:255] or 'upload'


def ids_of(image_ids: list[str], limit: int) -> list[str]:
    """Return the well-formed, unique ids of a request, refusing too many."""
    if len(image_ids) > limit:
        raise ImageProblem('invalid', f'Select at most {limit} images at once.')
    return list(dict.fromkeys(i for i in image_ids if isinstance(i, str) and IMAGE_ID_RE.fullmatch(i)))


def normalize_tags(tags: list[str]) -> list[str]:
    """Return tags trimmed, lower case, whitespace collapsed and unique; refuse bad ones with a clear message."""
    if not isinstance(tags, list) or len(tags) > MAX_TAGS:
        raise ImageProblem('invalid', f'An image can have at most {MAX_TAGS} tags.')
    out: list[str] = []
    for tag in tags:
        text = ' '.join(str(tag).split()).lower()
        if not text:
            continue
        if len(text) > MAX_TAG_LEN or _TAG_BAD.search(text):
            raise ImageProblem(
                'invalid',
                f'Tags are up to {MAX_TAG_LEN} characters without quotes, commas or backslashes: {str(tag)[:40]!r}',
            )
        if text not in out:
            out.append(text)
    return out


def sidecar_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Return row field values in their sidecar (JSON) form."""
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in fields.items()}


def sidecar_of_row(row: Image) -> dict[str, Any]:
    """Return the full sidecar of an image, built from its row."""
    meta = {
        'id': row.id,
        'owner': row.owner,
        'kind': row.kind,
        'path': row.rel_path,
        'thumb': row.thumb_path,
        'mime': row.mime,
        'bytes': row.bytes,
        'width': row.width,
        'height': row.height,
        'sha256': row.sha256,
        'created_at': row.created_at.isoformat(),
        **{k: getattr(row, k) for k in ROW_FIELDS},
        'params': row.params,
    }
    meta.update(sidecar_fields({k: getattr(row, k) for k in MUTABLE}))
    return meta


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def row_from_sidecar(meta: dict[str, Any]) -> Image:
    """Return the row a sidecar describes (raises KeyError/ValueError/TypeError when it lacks what a row needs)."""
    tags = meta.get('tags') or []
    seed = meta.get('seed')
    created = _when(meta['created_at'])
    if created is None:
        raise ValueError('created_at missing')
    return Image(
        id=str(meta['id']),
        owner=str(meta['owner']),
        kind=str(meta.get('kind') or 'generated'),
        rel_path=str(meta['path']),
        thumb_path=meta.get('thumb'),
        mime=str(meta['mime']),
        bytes=int(meta['bytes']),
        width=int(meta.get('width') or 0),
        height=int(meta.get('height') or 0),
        sha256=str(meta['sha256']),
        created_at=created,
        status='trash' if meta.get('status') == 'trash' else 'active',
        trashed_at=_when(meta.get('trashed_at')),
        tags=[str(t) for t in tags] if isinstance(tags, list) else [],
        favorite=bool(meta.get('favorite')),
        seed=int(seed) if isinstance(seed, int) else None,
        params=meta['params'] if isinstance(meta.get('params'), dict) else None,
        **{k: meta.get(k) if isinstance(meta.get(k), str) else None for k in ROW_FIELDS if k != 'seed'},
    )


def download_name(image: ImageView | Image) -> str:
    """Return the name a download gets from the date, the workflow and the prompt's first words."""
    parts = [f'{image.created_at:%Y%m%d-%H%M%S}']
    if workflow := re.sub(r'[^\w-]', '', image.workflow_id or '', flags=re.ASCII):
        parts.append(workflow)
    words = '-'.join(_WORD.findall((image.prompt or '').lower())[:NAME_WORDS])[:NAME_WORDS_CHARS].strip('-')
    if words:
        parts.append(words)
    if len(parts) == 1:
        parts.append(image.kind)
    path = image.url if isinstance(image, ImageView) else image.rel_path
    return '_'.join(parts) + (PurePosixPath(path).suffix or '.png')


def content_disposition(filename: str) -> str:
    """Return an attachment header with an ASCII fallback name and the UTF-8 name (RFC 6266 / 5987)."""
    fallback = ''.join(ch for ch in filename if ch.isascii() and (ch.isalnum() or ch in '.-_'))
    fallback = re.sub(r'[-_]+(?=\.)', '', re.sub(r'_-+|-+_', '_', re.sub(r'-{2,}', '-', fallback))) or 'image'
    return f'attachment; filename="{fallback}"; filename*=UTF-8\'\'{quote(filename, safe="")}'
