"""Every UI string exists in both languages with the same placeholders; the browser's language is picked right."""

from __future__ import annotations

import pytest

from vcc_ui.i18n import LANGUAGES, STRINGS, best_language, placeholders, translate


@pytest.mark.parametrize('key', sorted(STRINGS))
def test_every_string_has_both_languages_with_the_same_placeholders(key: str) -> None:
    texts = STRINGS[key]
    assert set(texts) == set(LANGUAGES), f'{key} has {sorted(texts)}'
    assert all(text.strip() for text in texts.values()), f'{key} has an empty text'
    assert placeholders(texts['en']) == placeholders(texts['ko']), key


@pytest.mark.parametrize(
    ('header', 'expected'),
    [
        ('ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7', 'ko'),
        ('en-US,en;q=0.9,ko;q=0.8', 'en'),
        ('ko', 'ko'),
        ('ja-JP,ko;q=0.5', 'ko'),
        ('de-DE,de;q=0.9', 'en'),
        ('', 'en'),
        (None, 'en'),
        ('en;q=0.3,ko;q=0.6', 'ko'),
        ('ko;q=bogus,en', 'en'),
        ('*', 'en'),
    ],
)
def test_the_language_comes_from_accept_language(header: str | None, expected: str) -> None:
    assert best_language(header) == expected


def test_translate_formats_and_falls_back_to_english() -> None:
    assert translate('login_limited', 'ko', seconds=5) == '잘못된 시도가 너무 많습니다. 5초 후에 다시 시도하세요.'
    assert translate('nav_gallery', 'xx') == 'Gallery'
