"""Share links: an owner's expiring, revocable, signed link to one image, viewable without logging in."""

from __future__ import annotations

import asyncio
import io
import logging
import struct
import uuid
from datetime import datetime, timedelta
from pathlib import PurePosixPath

from itsdangerous import BadSignature, URLSafeSerializer
from PIL import Image as PILImage
from sqlmodel import Session, col, select

from vcc_ui.models import Image, ShareLink, utcnow
from vcc_ui.services.dbwriter import DbWriter
from vcc_ui.services.image_meta import ImageNotFound, ImageProblem
from vcc_ui.services.images import ImageIndex
from vcc_ui.services.storage import StorageError, StorageUnavailable

log = logging.getLogger(__name__)

# NOTE: the beta gate lets these paths through without the password; the share route below lives under it.
SHARE_PATH = '/s/'
EXPIRY_CHOICES: dict[str, timedelta] = {
    '1h': timedelta(hours=1),
    '1d': timedelta(days=1),
    '7d': timedelta(days=7),
    '30d': timedelta(days=30),
}

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
# Ancillary PNG chunks that carry text or metadata (ComfyUI writes the prompt and the workflow graph as tEXt).
PNG_METADATA_CHUNKS = frozenset({b'tEXt', b'zTXt', b'iTXt', b'eXIf', b'tIME'})
CACHE_DIR = 'cache/shared'
TITLE_CHARS = 80


def strip_png_text(data: bytes) -> bytes:
    """Return a PNG without its text and metadata chunks (pixels untouched), or raise ValueError."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError('not a PNG')
    out, pos = [PNG_SIGNATURE], len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack('>I', data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise ValueError('truncated PNG chunk')
        if kind not in PNG_METADATA_CHUNKS:
            out.append(data[pos:end])
        pos = end
        if kind == b'IEND':
            break
    return b''.join(out)


def without_metadata(data: bytes, mime: str) -> bytes:
    """Return an image file without embedded metadata: PNG chunks dropped, JPEG/WEBP re-encoded without EXIF."""
    if mime == 'image/png':
        return strip_png_text(data)
    with PILImage.open(io.BytesIO(data)) as image:
        out = io.BytesIO()
        fmt = 'JPEG' if mime == 'image/jpeg' else 'WEBP'
        image.save(out, format=fmt, quality=95)
        return out.getvalue()


def share_title(row: Image, workflow_title: str | None) -> str:
    """Return what a shared page is called: the prompt's start, else the workflow's title, else a plain word."""
    prompt = ' '.join((row.prompt or '').split())
    if prompt:
        return prompt if len(prompt) <= TITLE_CHARS else prompt[: TITLE_CHARS - 1].rstrip() + '…'
    return workflow_title or ''


class ShareGone(ImageProblem):
    """The link existed but expired, was revoked, or its image is gone (HTTP 410)."""

    code = 'gone'

    def __init__(self, message: str, *, reason: str = 'image', until: datetime | None = None) -> None:
        super().__init__('gone', message)
        self.reason = reason  # revoked | expired | image
        self.until = until


class Shares:
    """Creates, lists, revokes and resolves share links; tokens are signed link ids, the row holds the expiry."""

    def __init__(self, writer: DbWriter, secret: str, images: ImageIndex) -> None:
        self.writer = writer
        self.images = images
        self._signer = URLSafeSerializer(secret, salt='vcc-share-link')

    def token(self, link: ShareLink) -> str:
        """Return the signed token of a link."""
        return self._signer.dumps(link.id)

    def url(self, link: ShareLink) -> str:
        """Return the public path of a link."""
        return SHARE_PATH + self.token(link)

    async def create(
        self,
        owner: str,
        image_id: str,
        expires: str,
        *,
        strip_metadata: bool = True,
        now: datetime | None = None,
    ) -> ShareLink:
        """Make a link to one of the owner's active images, valid for one of EXPIRY_CHOICES."""
        if expires not in EXPIRY_CHOICES:
            raise ImageProblem('invalid', f'Choose an expiry among {", ".join(EXPIRY_CHOICES)}.')
        row = await self.images.get(owner, image_id)
        if row is None or row.status != 'active':
            raise ImageNotFound()
        created = now or utcnow()
        link = ShareLink(
            id=uuid.uuid4().hex,
            owner=owner,
            image_id=row.id,
            created_at=created,
            expires_at=created + EXPIRY_CHOICES[expires],
            strip_metadata=bool(strip_metadata),
        )
        await self.writer.write(lambda db: db.add(link))
        log.info('share link created', extra={'owner': owner, 'image_id': row.id, 'expires': expires})
        return link

    async def links(self, owner: str, image_id: str | None = None) -> list[ShareLink]:
        """Return the owner's links (of one image when given), newest first, revoked and expired ones included."""
        where = [ShareLink.owner == owner, *([ShareLink.image_id == image_id] if image_id else [])]
        return await self.writer.read(
            lambda db: list(db.exec(select(ShareLink).where(*where).order_by(col(ShareLink.created_at).desc())).all())
        )

    async def revoke(self, owner: str, link_id: str, *, now: datetime | None = None) -> ShareLink:
        """Revoke one of the owner's links (revoking twice keeps the first time)."""

        def apply(db: Session) -> ShareLink | None:
            link = db.get(ShareLink, link_id) if isinstance(link_id, str) else None
            if link is None or link.owner != owner:
                return None
            if link.revoked_at is None:
                link.revoked_at = now or utcnow()
                db.add(link)
            return link

        link = await self.writer.write(apply)
        if link is None:
            raise ImageNotFound('No such share link.')
        return link

    async def resolve(self, token: str, *, now: datetime | None = None) -> Image:
        """Return the image a token shows, or raise ImageNotFound (bad token) / ShareGone (expired, revoked, gone)."""
        return (await self.resolve_link(token, now=now))[1]

    async def resolve_link(self, token: str, *, now: datetime | None = None) -> tuple[ShareLink, Image]:
        """Return the link and the image a token shows; raise like `resolve`."""
        try:
            link_id = self._signer.loads(token)
        except BadSignature as error:
            raise ImageNotFound('This share link does not exist.') from error
        link = await self.writer.read(lambda db: db.get(ShareLink, link_id) if isinstance(link_id, str) else None)
        if link is None:
            raise ImageNotFound('This share link does not exist.')
        if link.revoked_at is not None:
            raise ShareGone('This share link was turned off by its owner.', reason='revoked')
        if (now or utcnow()) >= link.expires_at:
            raise ShareGone(
                f'This share link expired on {link.expires_at:%Y-%m-%d %H:%M} UTC.',
                reason='expired',
                until=link.expires_at,
            )
        row = await self.images.row(link.owner, link.image_id)
        if row is None or row.status != 'active':
            raise ShareGone('The shared image is no longer available.')
        return link, row

    async def file(self, link: ShareLink, row: Image) -> str:
        """Return the stored file a link serves: the original, or a cached copy without metadata.

        ShareGone when the original is missing; StorageUnavailable when the storage cannot answer.
        """
        storage = self.images.storage
        try:
            found = await asyncio.to_thread(storage.exists, row.rel_path)
        except StorageUnavailable:
            raise
        except StorageError as error:
            raise ShareGone('The shared image is no longer available.') from error
        if not found:
            raise ShareGone('The shared image is no longer available.')
        if not link.strip_metadata:
            return row.rel_path
        suffix = PurePosixPath(row.rel_path).suffix
        copy = f'{CACHE_DIR}/{row.id}-{row.sha256[:16]}{suffix}'
        if not await asyncio.to_thread(storage.exists, copy):
            await asyncio.to_thread(self._write_copy, row.rel_path, copy, row.mime)
        return copy

    def _write_copy(self, original: str, copy: str, mime: str) -> None:
        """Store a copy of `original` without its metadata (one atomic write: readers see all of it or none)."""
        storage = self.images.storage
        try:
            data = without_metadata(storage.read_bytes(original), mime)
        except StorageUnavailable:
            raise
        except (StorageError, OSError, ValueError) as error:
            log.warning('cannot strip the metadata of %s: %s', original, error)
            raise ShareGone('The shared image is no longer available.') from error
        storage.write_file(copy, data)

    def as_dict(self, link: ShareLink, *, now: datetime | None = None) -> dict:
        """The JSON shape of a link in API answers."""
        moment = now or utcnow()
        state = 'revoked' if link.revoked_at else 'expired' if moment >= link.expires_at else 'active'
        return {
            'id': link.id,
            'image_id': link.image_id,
            'url': self.url(link),
            'state': state,
            'created_at': link.created_at.isoformat(),
            'expires_at': link.expires_at.isoformat(),
            'revoked_at': link.revoked_at.isoformat() if link.revoked_at else None,
            'strip_metadata': link.strip_metadata,
        }
