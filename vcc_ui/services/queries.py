"""The read queries the gallery, the admin pages and the ops commands share: image listings, counts and usage.

Every listing goes through `image_conditions`, so a user's gallery and the admin's view of it select the same rows
for the same filter; the conditions keep the shapes the image indexes serve (owner, kind, status, created_at).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnClause,
    ColumnElement,
    Integer,
    Row,
    Text,
    bindparam,
    cast,
    column,
    exists,
    literal_column,
    table,
)
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from vcc_ui.models import Image, Job, User
from vcc_ui.services.image_meta import ImageFilter, Usage
from vcc_ui.settings import Settings

MAX_PAGE_SIZE = 100
COUNT_CAP = 1_000  # a filtered listing counts its matches up to here (or to the end of the page asked for)
# Per owner, kind and status image counts that triggers keep in step (migration 0007).
IMAGE_COUNTS = table('imagecount', column('owner'), column('kind'), column('status'), column('n'))
# SQLite only: the words of each prompt and its owner as one hex token, kept by triggers (migration 0016).
IMAGE_FTS = table('image_fts', column('rowid'))
ROWID: ColumnClause[int] = literal_column('image.rowid', Integer)
# What a submit reads of its user (`owner_admission`): built once, executed as it is
ADMISSION = sa_select(col(User.blocked), col(User.quota_max_bytes), col(User.quota_max_images)).where(
    col(User.id) == bindparam('owner')
)
_WORDS = re.compile(r'[^\W_]+')


def _like(text: str) -> str:
    """Return a LIKE pattern matching `text` anywhere, with LIKE's wildcards escaped."""
    return '%' + text.replace('\\', '\\\\').replace('%', '\\%').replace('_', '\\_') + '%'


def image_conditions(f: ImageFilter, *, owner: str | None = None, dialect: str = '') -> list[Any]:
    """Return the SQL conditions of a filter, scoped to one owner when given (everyone's images otherwise)."""
    where: list[Any] = []
    if owner is not None:
        where.append(Image.owner == owner)
    if f.status is not None:
        where.append(Image.status == f.status)
    kinds = (f.kind,) if isinstance(f.kind, str) else tuple(f.kind or ())
    if kinds:
        where.append(Image.kind == kinds[0] if len(kinds) == 1 else col(Image.kind).in_(kinds))
    if f.from_date:
        where.append(col(Image.created_at) >= datetime.combine(f.from_date, time.min, UTC))
    if f.to_date:
        where.append(col(Image.created_at) < datetime.combine(f.to_date + timedelta(days=1), time.min, UTC))
    if f.aspect_ratio:
        where.append(Image.aspect_ratio == f.aspect_ratio)
    if f.workflow_id:
        where.append(Image.workflow_id == f.workflow_id)
    if f.favorite is not None:
        where.append(Image.favorite == f.favorite)
    if f.tag:
        # NOTE: tags are a JSON list stored as json.dumps text on SQLite and PostgreSQL (json, not jsonb).
        where.append(cast(Image.tags, Text).like(_like(json.dumps(f.tag.strip().lower())), escape='\\'))
    if f.q and f.q.strip():
        where.extend(prompt_search(f.q.strip(), dialect, owner))
    return where


def prompt_search(q: str, dialect: str, owner: str | None = None) -> list[Any]:
    """Return the conditions of a prompt search: the text anywhere in the prompt (ILIKE), first narrowed on SQLite
    to the owner's images whose prompt has the query's words (the FTS5 index); PostgreSQL's trigram index serves the
    ILIKE itself."""
    where: list[Any] = []
    match = prompt_match(q, owner) if dialect == 'sqlite' else None
    if match:
        where.append(ROWID.in_(select(IMAGE_FTS.c.rowid).where(_matches(match))))
    where.append(col(Image.prompt).ilike(_like(q), escape='\\'))
    return where


def prompt_match(q: str, owner: str | None) -> str | None:
    """Return the FTS5 query of a search's words as a phrase, the last one a word start, scoped to an owner when
    given; None when the search has no words."""
    words = _WORDS.findall(q.lower())
    if not words:
        return None
    phrase = 'prompt:"' + ' '.join(words) + '"*'
    return phrase if owner is None else f'owner:"{owner.encode().hex()}" AND {phrase}'


def _matches(match: str) -> ColumnElement[bool]:
    """Return the FTS5 condition `image_fts MATCH <match>`."""
    return literal_column('image_fts').op('MATCH')(match)


def page_bounds(page: int, size: int) -> tuple[int, int]:
    """Return a requested page number and size brought into range (size 1..MAX_PAGE_SIZE)."""
    return max(1, page), max(1, min(size, MAX_PAGE_SIZE))


@dataclass(frozen=True, kw_only=True, slots=True)
class ImageRows:
    """One page of rows, whether a next page exists, and the total (a lower bound when `capped`)."""

    rows: list[Image]
    total: int
    capped: bool
    more: bool


def image_rows(db: Session, f: ImageFilter, *, owner: str | None, page: int, size: int) -> ImageRows:
    """Return one page of the images a filter selects, newest first, and how many it selects.

    An unfiltered gallery's total comes from the kept counters; any other listing counts its matches only up to
    `COUNT_CAP` (or the end of this page, if further), so a broad search never counts every match.
    """
    dialect = db.get_bind().dialect.name
    match = prompt_match(f.q.strip(), owner) if dialect == 'sqlite' and f.q else None
    if match:
        return _searched_rows(db, f, match, owner=owner, page=page, size=size)
    where = image_conditions(f, owner=owner, dialect=dialect)
    rows, more = _page(db, where, page, size)
    if owner is not None and f.status is not None and f.kind and not f.narrowed:
        kinds = (f.kind,) if isinstance(f.kind, str) else tuple(f.kind)
        return ImageRows(rows=rows, total=counted_total(db, owner, kinds, f.status), capped=False, more=more)
    if not more and (rows or page == 1):
        return ImageRows(rows=rows, total=(page - 1) * size + len(rows), capped=False, more=False)
    reach = max(COUNT_CAP, page * size)
    matches = select(literal_column('1')).select_from(Image).where(*where).limit(reach + 1).subquery()
    found = int(db.exec(select(func.count()).select_from(matches)).one())
    return ImageRows(rows=rows, total=min(found, reach), capped=found > reach, more=more)


def _searched_rows(db: Session, f: ImageFilter, match: str, *, owner: str | None, page: int, size: int) -> ImageRows:
    """Return one page of a word search on SQLite, its matches counted up to the reach from the FTS5 index.

    The index's entries for the owner and the words are walked once, each image looked up by rowid, and the walk stops
    past the reach. Up to the reach, the page is sorted from those rowids; past it the matches are many, and walking
    the owner's images newest first finds a page soonest.
    """
    plain = image_conditions(f, owner=owner)  # every condition but the index's: checked per match
    image = Image.__table__  # type: ignore[attr-defined]
    found_here = exists().where(ROWID == IMAGE_FTS.c.rowid, *plain).correlate_except(image)
    reach = max(COUNT_CAP, page * size)
    hits = db.exec(select(IMAGE_FTS.c.rowid).where(_matches(match), found_here).limit(reach + 1)).all()
    if len(hits) <= reach:
        listed: Any = select(literal_column('value')).select_from(func.json_each(json.dumps(list(hits))))
        rows, more = _page(db, [ROWID.in_(listed)], page, size)
        return ImageRows(rows=rows, total=len(hits), capped=False, more=more)
    rows, more = _page(db, image_conditions(f, owner=owner, dialect='sqlite'), page, size)
    return ImageRows(rows=rows, total=reach, capped=True, more=more)


def _page(db: Session, where: list[Any], page: int, size: int) -> tuple[list[Image], bool]:
    """Return one page of the images these conditions select, newest first, and whether a next page exists."""
    fetched = db.exec(
        select(Image)
        .where(*where)
        .order_by(col(Image.created_at).desc(), col(Image.id).desc())
        .offset((page - 1) * size)
        .limit(size + 1)
    ).all()
    return list(fetched[:size]), len(fetched) > size


def counted_total(db: Session, owner: str, kinds: tuple[str, ...], status: str) -> int:
    """Return how many images of these kinds and status an owner has, from the counters the database keeps."""
    counts = IMAGE_COUNTS.c
    query = select(func.coalesce(func.sum(counts.n), 0)).where(
        counts.owner == owner, counts.status == status, counts.kind.in_(kinds)
    )
    return int(db.exec(query).one())


def owned_rows(db: Session, owner: str, image_ids: Sequence[str]) -> list[Image]:
    """Return the owner's images among `image_ids`, oldest first (others' ids are skipped).

    Looked up by id alone, the owner checked on the rows: with the owner in the query SQLite took an owner index and
    walked all of the owner's images (13 ms for 8 ids among 10,000) instead of the primary key (0.05 ms).
    """
    rows = db.exec(select(Image).where(col(Image.id).in_(image_ids)).order_by(col(Image.created_at))).all()
    return [row for row in rows if row.owner == owner]


def input_by_sha256(db: Session, owner: str, sha256: str) -> Image | None:
    """Return the owner's input image with this content (an active one before a trashed one), or None."""
    query = select(Image).where(Image.owner == owner, Image.kind == 'input', Image.sha256 == sha256)
    return db.exec(query.order_by(col(Image.status)).limit(1)).first()


def trash_rows(db: Session, trashed_before: datetime) -> list[Image]:
    """Return every image trashed at or before a moment."""
    return list(db.exec(select(Image).where(Image.status == 'trash', col(Image.trashed_at) <= trashed_before)).all())


def trash_totals(db: Session, trashed_before: datetime) -> tuple[int, int]:
    """Return how many images were trashed at or before a moment, and their bytes."""
    count, size = db.exec(
        select(func.count(), func.coalesce(func.sum(Image.bytes), 0)).where(
            Image.status == 'trash', col(Image.trashed_at) <= trashed_before
        )
    ).one()
    return int(count), int(size)


@dataclass(frozen=True, kw_only=True, slots=True)
class ImageTotals:
    """How many active and trashed images one owner has, and their bytes."""

    images: int = 0
    bytes: int = 0
    trash_images: int = 0
    trash_bytes: int = 0


def image_totals(db: Session, owner: str | None = None) -> dict[str, ImageTotals]:
    """Return the image totals per owner (of one owner when given); owners without images are left out."""
    query = select(Image.owner, Image.status, func.count(), func.coalesce(func.sum(Image.bytes), 0))
    if owner is not None:
        query = query.where(Image.owner == owner)
    sums: dict[str, dict[str, int]] = {}
    for row_owner, status, count, size in db.exec(query.group_by(Image.owner, Image.status)).all():
        entry = sums.setdefault(row_owner, {'images': 0, 'bytes': 0, 'trash_images': 0, 'trash_bytes': 0})
        prefix = '' if status == 'active' else 'trash_'
        entry[f'{prefix}images'] += int(count)
        entry[f'{prefix}bytes'] += int(size)
    return {row_owner: ImageTotals(**entry) for row_owner, entry in sums.items()}


def usage_of(totals: ImageTotals | None, user: User | Row | None, settings: Settings) -> Usage:
    """Return a user's usage from their totals, with their own limits or else the default ones (0 = unlimited)."""
    totals = totals or ImageTotals()
    own_bytes = user.quota_max_bytes if user else None
    own_images = user.quota_max_images if user else None
    return Usage(
        bytes=totals.bytes,
        images=totals.images,
        trash_bytes=totals.trash_bytes,
        trash_images=totals.trash_images,
        max_bytes=settings.quota_max_bytes if own_bytes is None else own_bytes,
        max_images=settings.quota_max_images if own_images is None else own_images,
    )


def owner_usage(db: Session, owner: str, settings: Settings) -> Usage:
    """Return what one owner's images use and the limits that apply."""
    return usage_of(image_totals(db, owner).get(owner), db.get(User, owner), settings)


def owner_admission(db: Session, owner: str, settings: Settings) -> tuple[bool, Usage | None]:
    """Return whether an administrator blocked the owner, and their usage: what a submit checks, in one read.

    The usage is None when no quota applies to the owner (0 = unlimited): adding up their images (a GROUP BY over
    all of them, a third of a submit's database time) could refuse nothing then. The user's three fields are read by
    a plain SELECT built once: loading the row as an ORM object (`db.get`) cost as much as the job's own INSERT.
    """
    user = db.connection().execute(ADMISSION, {'owner': owner}).first()
    limits = usage_of(None, user, settings)
    if not (limits.max_bytes or limits.max_images):
        return user is not None and user.blocked, None
    return user is not None and user.blocked, usage_of(image_totals(db, owner).get(owner), user, settings)


def user_rows(db: Session, *, limit: int | None = None) -> list[User]:
    """Return the user rows, most recently seen first."""
    return list(db.exec(select(User).order_by(col(User.last_seen).desc()).limit(limit)).all())


def is_known_owner(db: Session, owner: str) -> bool:
    """Whether an owner has any job or image."""
    return bool(
        db.exec(select(func.count()).select_from(Job).where(Job.owner == owner)).one()
        or db.exec(select(func.count()).select_from(Image).where(Image.owner == owner)).one()
    )


def server_jobs(db: Session, server_id: int, *, limit: int) -> list[Job]:
    """Return the newest jobs sent to one server."""
    return list(
        db.exec(select(Job).where(Job.server_id == server_id).order_by(col(Job.queued_at).desc()).limit(limit)).all()
    )
