"""The small fault campaign (CI size): real app and simulator processes, one app SIGKILL, one simulator SIGKILL."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.campaign.campaign import Size, run_campaign

pytestmark = pytest.mark.campaign

SMALL = Size(users=10, jobs_per_user=3, max_per_user_queue=1, deadline_seconds=150)


async def test_small_campaign_loses_nothing(tmp_path: Path) -> None:
    result = await run_campaign(tmp_path, SMALL)
    print(result.render())
    counts, bad, limits = result.counts, result.bad, result.extra['limits']
    assert result.extra['chaos'].app_killed_at_final is not None, 'the app was never killed'
    assert result.extra['chaos'].sim_killed_at_final is not None, 'the simulator was never killed'
    assert counts['accepted'] == counts['submitted']
    assert counts['completed'] + counts['failed_with_reason'] == counts['accepted'], result.render()
    assert (counts['lost'], counts['stuck'], counts['duplicated']) == (0, 0, 0), result.render()
    assert counts['unacknowledged_rows'] == 0, result.render()  # a retried submit got its first job back
    assert not result.extra['server_errors']
    assert not limits.violations, limits.violations[:10]
    consistency = ('rows_without_file', 'rows_without_sidecar', 'files_without_row', 'sidecars_without_row')
    assert not any(bad[name] for name in consistency), result.render()
    assert not bad['completed_without_images'] and not bad['failed_with_images'], result.render()
