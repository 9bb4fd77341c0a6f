"""The admin's user list rules: how full a user's quota is and which users a search finds."""

from __future__ import annotations

from vcc_ui.services.admin_data import UserSummary

MB = 1024 * 1024


def summary(**values: object) -> UserSummary:
    fields: dict = {
        'id': 'anon-' + 'a' * 32,
        'display_name': None,
        'created_at': None,
        'last_seen': None,
        'blocked': False,
        'jobs': 0,
        'images': 0,
        'bytes': 0,
        'trash_images': 0,
        'quota_max_bytes': None,
        'quota_max_images': None,
        'max_bytes': 0,
        'max_images': 0,
    }
    return UserSummary(**{**fields, **values})


def test_the_quota_fill_is_the_fuller_of_images_and_bytes_capped_at_one() -> None:
    assert summary(images=50, bytes=10 * MB).quota_fill == 0.0  # no limits
    assert summary(images=25, max_images=100, bytes=10 * MB, max_bytes=20 * MB).quota_fill == 0.5
    assert summary(images=90, max_images=100, bytes=MB, max_bytes=0).quota_fill == 0.9
    assert summary(images=3, max_images=2).quota_fill == 1.0


def test_a_search_finds_users_by_a_part_of_the_id_or_the_display_name() -> None:
    alice = summary(display_name='Alice Kim')
    assert alice.matches('') and alice.matches('   ')
    assert alice.matches('aaaa') and alice.matches(' kim ') and alice.matches('ALICE')
    assert not alice.matches('bob')
    assert not summary().matches('alice')
