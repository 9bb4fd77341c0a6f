"""Issue 11's full fault campaign: 100 users x 5 jobs on two simulator processes, app and simulator SIGKILLed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.campaign.campaign import Size, run_campaign

pytestmark = pytest.mark.bench

FULL = Size(users=100, jobs_per_user=5, deadline_seconds=900)


async def test_full_fault_campaign(tmp_path: Path) -> None:
    result = await run_campaign(tmp_path, FULL)
    print(result.render())
    print(f'  limit violations: {result.extra["limits"].violations[:10]}')
