"""The one time helper: moments in a zone with its name, naive ones read as UTC, only real IANA zones accepted."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from vcc_ui.pages.widgets.time_text import DAY, format_moment, zone_named


def test_moments_show_in_the_zone_with_its_name_and_naive_ones_are_utc() -> None:
    seoul = ZoneInfo('Asia/Seoul')
    assert format_moment(datetime(2025, 5, 1, 12, 0, tzinfo=UTC), seoul) == '2025-05-01 21:00 KST'
    assert format_moment(datetime(2025, 5, 1, 12, 0), seoul) == '2025-05-01 21:00 KST'
    assert format_moment('2025-05-01T12:00:00+00:00', UTC) == '2025-05-01 12:00 UTC'
    assert format_moment(datetime(2025, 5, 1, 20, 0, tzinfo=UTC), seoul, DAY, label=False) == '2025-05-02'
    assert format_moment(None, seoul) == '' and format_moment('not a time', seoul) == 'not a time'


def test_only_iana_zone_names_are_accepted() -> None:
    assert zone_named('Europe/Berlin') == ZoneInfo('Europe/Berlin')
    for bad in ('../../etc/passwd', '/etc/localtime', '', 'x' * 200, 42, None, 'Not/AZone'):
        assert zone_named(bad) is None
