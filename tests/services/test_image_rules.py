"""Image rules the pages ask for: the input a job gets, a finished job's results, filters that narrow, page counts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import Engine, event

from tests.fixtures import USER_A, USER_B
from tests.gallery import add_image, image_index
from tests.images import png_bytes
from vcc_ui.services import queries
from vcc_ui.services.image_meta import ImageFilter, ImageView, content_disposition, download_name
from vcc_ui.services.images import ImageIndex, ImageNotFound, ImagePage

DAY1 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
async def index(engine: Engine, tmp_path: Path) -> AsyncIterator[ImageIndex]:
    async with image_index(engine, tmp_path) as built:
        yield built


async def test_an_input_is_used_as_it_is_and_a_generated_image_is_copied_first(index: ImageIndex) -> None:
    upload = await add_image(index, USER_A, created=DAY1, kind='input', color=(1, 2, 3))
    generated = await add_image(index, USER_A, created=DAY1, prompt='castle')
    same = await index.as_input(USER_A, upload.id)
    assert same is not None and same.id == upload.id
    copy = await index.as_input(USER_A, generated.id)
    assert copy is not None and copy.id != generated.id and copy.kind == 'input' and copy.prompt == 'castle'
    assert (await index.page(USER_A, kind='input')).total == 2


async def test_unknown_other_users_and_trashed_generated_images_are_no_input(index: ImageIndex) -> None:
    generated = await add_image(index, USER_A, created=DAY1)
    assert await index.as_input(USER_B, generated.id) is None
    assert await index.as_input(USER_A, 'f' * 32) is None
    await index.delete(USER_A, generated.id)
    with pytest.raises(ImageNotFound):
        await index.as_input(USER_A, generated.id)


async def test_a_jobs_results_are_the_owners_active_generated_images_last_first(index: ImageIndex) -> None:
    first = await add_image(index, USER_A, created=DAY1)
    second = await add_image(index, USER_A, created=DAY1)
    trashed = await add_image(index, USER_A, created=DAY1)
    upload = await add_image(index, USER_A, created=DAY1, kind='input', color=(1, 2, 3))
    others = await add_image(index, USER_B, created=DAY1)
    await index.delete(USER_A, trashed.id)
    ids = [first.id, second.id, trashed.id, upload.id, others.id, 'f' * 32]
    assert [row.id for row in await index.results(USER_A, ids)] == [second.id, first.id]
    assert await index.results(USER_A, []) == []


async def test_many_images_are_read_in_one_query_and_others_ids_are_skipped(engine: Engine, index: ImageIndex) -> None:
    mine = [await add_image(index, USER_A, created=DAY1, color=(n, 4, 4)) for n in range(6)]
    others = await add_image(index, USER_B, created=DAY1)
    await index.delete(USER_A, mine[0].id)
    ids = [image.id for image in mine] + [others.id, 'f' * 32, 'not an id']
    statements: list[str] = []

    def grab(*args: object) -> None:  # before_cursor_execute(conn, cursor, statement, parameters, context, many)
        statements.append(str(args[2]))

    event.listen(engine, 'before_cursor_execute', grab)
    try:
        found = await index.many(USER_A, ids)
        results = await index.results(USER_A, ids)
    finally:
        event.remove(engine, 'before_cursor_execute', grab)
    assert set(found) == {image.id for image in mine} and found[mine[0].id].status == 'trash'
    assert found[mine[3].id] == await index.get(USER_A, mine[3].id)
    assert [view.id for view in results] == [image.id for image in reversed(mine[1:])]
    assert len([sql for sql in statements if sql.lstrip().upper().startswith('SELECT')]) == 2  # one per call


def test_a_filter_narrows_with_any_restriction_beyond_kind_and_status() -> None:
    assert not ImageFilter(kind='generated', status='trash').narrowed
    assert not ImageFilter(q='', tag=None, favorite=None).narrowed
    for restriction in (
        {'q': 'fox'},
        {'from_date': date(2025, 3, 1)},
        {'to_date': date(2025, 3, 1)},
        {'aspect_ratio': '1:1'},
        {'workflow_id': 'sd15_txt2img'},
        {'tag': 'cats'},
        {'favorite': True},
    ):
        assert ImageFilter(kind='generated', **restriction).narrowed, restriction


def test_a_listing_has_at_least_one_page() -> None:
    pages = {total: ImagePage(items=[], page=1, size=48, total=total).pages for total in (0, 1, 48, 49, 96, 97)}
    assert pages == {0: 1, 1: 1, 48: 1, 49: 2, 96: 2, 97: 3}


# ---- duplicates: one input per content and owner (issue 12 item 8) ---------------------------------------------


async def test_an_identical_upload_returns_the_existing_input(index: ImageIndex) -> None:
    first = await index.upload_input(USER_A, png_bytes(30, 20), 'a.png')
    again = await index.upload_input(USER_A, png_bytes(30, 20), 'b.png')
    assert again.id == first.id
    assert (await index.page(USER_A, kind='input')).total == 1
    other = await index.upload_input(USER_B, png_bytes(30, 20), 'a.png')
    assert other.id != first.id  # per user


async def test_use_as_input_twice_copies_once_and_matches_an_upload(index: ImageIndex) -> None:
    generated = await add_image(index, USER_A, created=DAY1, prompt='castle')
    first = await index.copy_to_inputs(USER_A, generated.id)
    assert (await index.copy_to_inputs(USER_A, generated.id)).id == first.id
    assert (await index.as_input(USER_A, generated.id)).id == first.id
    assert (await index.page(USER_A, kind='input')).total == 1


async def test_a_duplicate_of_a_trashed_input_restores_it(index: ImageIndex) -> None:
    first = await index.upload_input(USER_A, png_bytes(30, 20), 'a.png')
    await index.delete(USER_A, first.id)
    again = await index.upload_input(USER_A, png_bytes(30, 20), 'a.png')
    assert again.id == first.id and again.status == 'active' and again.trashed_at is None
    assert (await index.page(USER_A, kind='input')).total == 1


# ---- download names (issue 12 item 9) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ('prompt', 'workflow', 'kind', 'expected'),
    [
        (
            'A red fox, in the snow; highly detailed (masterpiece)',
            'sd15_txt2img',
            'generated',
            '20250301-100000_sd15_txt2img_a-red-fox-in-the-snow.png',
        ),
        (
            '붉은 여우가 눈 속에서 뛰노는 모습',
            'sdxl_lora',
            'generated',
            '20250301-100000_sdxl_lora_붉은-여우가-눈-속에서-뛰노는-모습.png',
        ),
        ('../../etc/passwd "x"', None, 'generated', '20250301-100000_etc-passwd-x.png'),
        (None, None, 'input', '20250301-100000_input.png'),
        ('x' * 300, 'w', 'generated', '20250301-100000_w_' + 'x' * 60 + '.png'),
    ],
)
def test_download_names_come_from_date_workflow_and_prompt(
    prompt: str | None, workflow: str | None, kind: str, expected: str
) -> None:
    view = _view(prompt=prompt, workflow_id=workflow, kind=kind)
    assert download_name(view) == expected


def test_content_disposition_has_an_ascii_fallback_and_utf8_name() -> None:
    header = content_disposition('20250301_붉은-여우.png')
    assert header == (
        'attachment; filename="20250301.png"; filename*=UTF-8\'\'20250301_%EB%B6%89%EC%9D%80-%EC%97%AC%EC%9A%B0.png'
    )


def _view(**fields: object) -> ImageView:
    base: dict[str, object] = {
        'id': 'a' * 32,
        'kind': 'generated',
        'url': '/outputs/x.png',
        'thumb_url': None,
        'mime': 'image/png',
        'bytes': 1,
        'width': 1,
        'height': 1,
        'sha256': '0' * 64,
        'created_at': DAY1,
        'status': 'active',
        'workflow_id': None,
        'mode': None,
        'prompt': None,
        'negative_prompt': None,
        'seed': None,
        'aspect_ratio': None,
        'job_id': None,
        'server': None,
        'tags': [],
        'favorite': False,
        'original_filename': None,
        'trashed_at': None,
        'purge_at': None,
    }
    return ImageView(**(base | fields))


# ---- cheap totals and full-text search (issue 12 item 12) ------------------------------------------------------


async def test_totals_come_from_counters_kept_by_the_database(index: ImageIndex) -> None:
    rows = [await add_image(index, USER_A, created=DAY1, color=(i, 1, 1)) for i in range(4)]
    await add_image(index, USER_A, created=DAY1, kind='input', color=(9, 9, 9))
    await add_image(index, USER_B, created=DAY1)
    counted = partial(_counted, index)

    assert counted(USER_A, ('generated',), 'active') == 4
    await index.bulk_delete(USER_A, [rows[0].id, rows[1].id])
    assert counted(USER_A, ('generated',), 'active') == 2 and counted(USER_A, ('generated',), 'trash') == 2
    assert counted(USER_A, ('generated', 'input'), 'active') == 3
    await index.restore(USER_A, rows[0].id)
    await index.purge(older_than_days=0, now=datetime(2100, 1, 1, tzinfo=UTC))
    assert counted(USER_A, ('generated',), 'trash') == 0 and counted(USER_A, ('generated',), 'active') == 3
    page = await index.page(USER_A, kind='generated', size=2)
    assert page.total == 3 and page.has_more


def _counted(index: ImageIndex, owner: str, kinds: tuple[str, ...], status: str) -> int | None:
    from sqlmodel import Session

    from vcc_ui.services.queries import counted_total

    with Session(index.writer.engine) as db:
        return counted_total(db, owner, kinds, status)


async def test_prompt_search_finds_words_and_word_starts_in_both_languages(index: ImageIndex) -> None:
    fox = await add_image(index, USER_A, created=DAY1, prompt='A Red Fox in the snow', color=(1, 1, 1))
    korean = await add_image(index, USER_A, created=DAY1, prompt='눈 속의 붉은 여우가 달린다', color=(2, 2, 2))
    await add_image(index, USER_A, created=DAY1, prompt='a black cat', color=(3, 3, 3))

    async def ids(q: str) -> set[str]:
        return {r.id for r in (await index.page(USER_A, filters=ImageFilter(q=q))).items}

    assert await ids('red fox') == {fox.id}
    assert await ids('FOX snow') == set()  # the words in this order, as typed
    assert await ids('fo') == {fox.id}
    assert await ids('여우') == {korean.id}
    assert await ids('붉은 여우') == {korean.id}
    page = await index.page(USER_A, filters=ImageFilter(q='red'))
    assert page.total == 1
    await index.writer.write(lambda db: _set_prompt(db, fox.id, 'a green owl'))
    assert await ids('fox') == set() and await ids('owl') == {fox.id}


def _set_prompt(db, image_id: str, prompt: str) -> None:
    from vcc_ui.models import Image

    row = db.get(Image, image_id)
    row.prompt = prompt
    db.add(row)


async def test_a_search_counts_its_matches_only_up_to_the_cap_and_says_so(
    index: ImageIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queries, 'COUNT_CAP', 3)
    for i in range(6):
        await add_image(index, USER_A, created=DAY1, prompt=f'red fox {i}', color=(i, 5, 5))
    await add_image(index, USER_A, created=DAY1, prompt='a black cat', color=(9, 5, 5))
    fox = ImageFilter(q='fox')

    first = await index.page(USER_A, size=2, filters=fox)
    assert (len(first.items), first.total, first.total_capped, first.has_more) == (2, 3, True, True)
    assert first.pages == 3  # the pages counted so far and one more
    far = await index.page(USER_A, page=3, size=2, filters=fox)  # counting reaches past the page asked for
    assert (len(far.items), far.total, far.total_capped, far.has_more) == (2, 6, False, False)
    cat = await index.page(USER_A, size=2, filters=ImageFilter(q='cat'))
    assert (cat.total, cat.total_capped, cat.has_more) == (1, False, False)
    past = await index.page(USER_A, page=5, size=2, filters=fox)
    assert (past.items, past.total, past.total_capped, past.has_more) == ([], 6, False, False)


async def test_a_search_reads_its_few_matches_from_the_word_index_not_the_whole_gallery(index: ImageIndex) -> None:
    engine = index.writer.engine
    if engine.dialect.name != 'sqlite':
        pytest.skip('the FTS5 word index is SQLite only (PostgreSQL: a trigram index)')
    fox = await add_image(index, USER_A, created=DAY1, prompt='a red fox', color=(1, 4, 4))
    for i in range(3):
        await add_image(index, USER_A, created=DAY1, prompt=f'a black cat {i}', color=(i, 6, 6))
    await add_image(index, USER_B, created=DAY1, prompt='a red fox', color=(7, 7, 7))
    statements: list[tuple[str, object]] = []

    def grab(*args: object) -> None:  # before_cursor_execute(conn, cursor, statement, parameters, context, many)
        statements.append((str(args[2]), args[3]))

    event.listen(engine, 'before_cursor_execute', grab)
    try:
        page = await index.page(USER_A, filters=ImageFilter(q='red fox'))
    finally:
        event.remove(engine, 'before_cursor_execute', grab)
    assert [r.id for r in page.items] == [fox.id] and (page.total, page.total_capped) == (1, False)
    with engine.connect() as conn:
        plans = [str(conn.exec_driver_sql(f'EXPLAIN QUERY PLAN {sql}', params).all()) for sql, params in statements]
    searched = [plan for plan in plans if 'image_fts' in plan]
    assert searched and not [plan for plan in searched if 'ix_image_owner' in plan], plans


async def test_the_word_index_follows_owners_prompts_and_deletes(index: ImageIndex) -> None:
    mine = await add_image(index, USER_A, created=DAY1, prompt='a red fox', color=(1, 8, 8))
    theirs = await add_image(index, USER_B, created=DAY1, prompt='a red fox', color=(2, 8, 8))
    await add_image(index, USER_A, created=DAY1, kind='input', prompt='', color=(3, 8, 8))

    async def ids(owner: str, q: str) -> set[str]:
        return {r.id for r in (await index.page(owner, filters=ImageFilter(q=q))).items}

    assert await ids(USER_A, 'red fox') == {mine.id} and await ids(USER_B, 'red fox') == {theirs.id}
    await index.writer.write(lambda db: _set_prompt(db, mine.id, 'a green owl'))
    assert await ids(USER_A, 'fox') == set() and await ids(USER_A, 'gree') == {mine.id}
    await index.bulk_delete(USER_B, [theirs.id])
    await index.purge(older_than_days=0, now=datetime(2100, 1, 1, tzinfo=UTC))
    trashed = await index.page(USER_B, filters=ImageFilter(q='fox', status='trash'))
    assert (trashed.items, trashed.total) == ([], 0)
    if index.writer.engine.dialect.name == 'sqlite':
        with index.writer.engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO image_fts (image_fts) VALUES ('integrity-check')")
