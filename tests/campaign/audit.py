"""Count what a campaign left behind: DB rows vs files vs sidecars vs the prompts the simulators received."""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vcc_ui.simulator.promptlog import read_prompt_log

if TYPE_CHECKING:
    from tests.campaign.campaign import Size
    from tests.campaign.procs import AppProcess, SimProcess

FINAL = {'completed', 'failed', 'cancelled', 'timed_out'}
IMAGE_EXTS = {'.png', '.jpg', '.webp'}
UUIDISH = re.compile(r'[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}|[0-9a-f]{32}|\d+(\.\d+)?')


@dataclass
class Audit:
    """The counts, the job ids behind each bad count, and a trail per bad job."""

    counts: dict[str, Any] = field(default_factory=dict)
    bad: dict[str, list[str]] = field(default_factory=dict)
    trails: dict[str, list[str]] = field(default_factory=dict)
    reasons: Counter[str] = field(default_factory=Counter)
    extra: dict[str, Any] = field(default_factory=dict)

    def render(self) -> str:
        """The report printed by the test and the bench."""
        lines = ['=== fault campaign ===']
        lines += [f'  {name}: {value}' for name, value in self.counts.items()]
        lines += [f'  {name}: {value}' for name, value in self.extra.items()]
        lines.append('  failure reasons (ids and numbers blanked):')
        lines += [f'    {count} x {reason}' for reason, count in self.reasons.most_common(12)]
        for name, ids in self.bad.items():
            if ids:
                lines.append(f'  {name}: {ids[:10]}{" ..." if len(ids) > 10 else ""}')
        for job_id, trail in list(self.trails.items())[:6]:
            lines.append(f'  trail of job {job_id}:')
            lines += [f'    {line}' for line in trail[:25]]
        return '\n'.join(lines)


def _rows(db_path: Path, sql: str) -> list[sqlite3.Row]:
    with sqlite3.connect(f'file:{db_path}?mode=ro', uri=True) as db:
        db.row_factory = sqlite3.Row
        return db.execute(sql).fetchall()


def _app_log_lines(app: AppProcess) -> list[tuple[str, dict[str, Any] | str]]:
    lines: list[tuple[str, dict[str, Any] | str]] = []
    for path in app.logs:
        for line in path.read_text(encoding='utf-8', errors='replace').splitlines():
            try:
                lines.append((path.name, json.loads(line)))
            except json.JSONDecodeError:
                lines.append((path.name, line))
    return lines


def audit(
    *,
    app: AppProcess,
    sims: list[SimProcess],
    accepted: dict[str, str],
    listed: dict[str, str],
    size: Size,
    extra: dict[str, Any],
) -> Audit:
    """Audit the data folder of a finished campaign."""
    jobs = {row['id']: row for row in _rows(app.db_path, 'SELECT * FROM job')}
    images = _rows(app.db_path, "SELECT * FROM image WHERE kind = 'generated'")
    logs = _app_log_lines(app)
    prompt_job: dict[str, str] = {row['prompt_id']: job_id for job_id, row in jobs.items() if row['prompt_id']}
    for _, entry in logs:
        if isinstance(entry, dict) and entry.get('event') == 'job_start' and entry.get('prompt_id'):
            prompt_job[entry['prompt_id']] = entry['job_id']
    sim_events: dict[str, list[str]] = defaultdict(list)  # job id -> what the simulators saw
    started: Counter[str] = Counter()
    succeeded: Counter[str] = Counter()
    lives: dict[str, set[str]] = defaultdict(set)  # job id -> the simulator lives (name/pid) it succeeded on
    starts_per_prompt: Counter[str] = Counter()
    orphan_prompts: list[str] = []
    for sim in sims:
        for entry in read_prompt_log(sim.prompt_log):
            prompt_id = entry['prompt_id']
            job_id = prompt_job.get(prompt_id)
            if entry['event'] == 'started':
                starts_per_prompt[f'{sim.name}/{prompt_id}'] += 1
                if job_id is None:
                    orphan_prompts.append(prompt_id)
                else:
                    started[job_id] += 1
            if job_id is not None:
                if entry['event'] == 'finished' and entry['status'] == 'success':
                    succeeded[job_id] += 1
                    lives[job_id].add(f'{sim.name}/{entry.get("pid")}')
                detail = entry.get('status', entry.get('accepted', ''))
                sim_events[job_id].append(f'{entry["time"]:.3f} sim {sim.name}: {entry["event"]} {prompt_id} {detail}')

    by_output: Counter[tuple[str, str]] = Counter((row['job_id'], row['original_filename']) for row in images)
    image_ids = {row['id'] for row in images}
    images_of: dict[str, list[sqlite3.Row]] = defaultdict(list)
    for row in images:
        images_of[row['job_id']].append(row)
    out = app.output_dir
    originals, sidecars, tmp_files = set(), set(), []
    for path in (out / 'users').rglob('*') if (out / 'users').exists() else []:
        if not path.is_file():
            continue
        if path.name.endswith('.tmp'):
            tmp_files.append(str(path.relative_to(out)))
        elif path.parent.name != 'thumb' and path.suffix in IMAGE_EXTS:
            originals.add(path.stem)
        elif path.suffix == '.json':
            sidecars.add(path.stem)

    statuses = {job_id: jobs[job_id]['status'] for job_id in accepted if job_id in jobs}
    bad: dict[str, list[str]] = {
        'lost_no_row': [j for j in accepted if j not in jobs],
        'lost_not_listed_to_owner': [j for j in accepted if j in jobs and j not in listed],
        'stuck': [j for j, status in statuses.items() if status not in FINAL],
        'stuck_unacknowledged': [j for j, row in jobs.items() if j not in accepted and row['status'] not in FINAL],
        'failed_without_reason': [
            j for j, status in statuses.items() if status in ('failed', 'timed_out') and not jobs[j]['error']
        ],
        'duplicated_image_rows': sorted({job for (job, _), n in by_output.items() if n > 1}),
        # a second success on the same simulator life ran a prompt twice; one on another life re-ran a result that
        # died with its server before the app fetched it (counted apart: it costs a run, the user gets one image)
        'duplicated_executions': [j for j, n in succeeded.items() if n > len(lives[j])],
        'reruns_after_server_loss': [j for j in succeeded if len(lives[j]) > 1],
        'completed_without_images': [
            j
            for j, status in statuses.items()
            if status == 'completed' and (not images_of[j] or set(json.loads(jobs[j]['image_ids'])) - image_ids)
        ],
        'failed_with_images': [j for j, status in statuses.items() if status != 'completed' and images_of[j]],
        'completed_never_executed': [j for j, status in statuses.items() if status == 'completed' and not succeeded[j]],
        'rows_without_file': [r['job_id'] for r in images if not (out / r['rel_path']).is_file()],
        'rows_without_sidecar': [r['job_id'] for r in images if r['id'] not in sidecars],
        'rows_without_thumb': [
            r['job_id'] for r in images if not r['thumb_path'] or not (out / r['thumb_path']).is_file()
        ],
        'files_without_row': sorted(originals - image_ids),
        'sidecars_without_row': sorted(sidecars - image_ids),
        'prompts_started_twice': [p for p, n in starts_per_prompt.items() if n > 1],
        'orphan_prompts_started': orphan_prompts,
    }
    result = Audit(bad=bad, extra=extra)
    result.counts = {
        'size': f'{size.users} users x {size.jobs_per_user} jobs',
        'submitted': size.users * size.jobs_per_user,
        'accepted': len(accepted),
        'completed': sum(status == 'completed' for status in statuses.values()),
        'failed_with_reason': sum(
            status in ('failed', 'timed_out') and bool(jobs[j]['error']) for j, status in statuses.items()
        ),
        'cancelled': sum(status == 'cancelled' for status in statuses.values()),
        'stuck': len(bad['stuck']) + len(bad['stuck_unacknowledged']),
        'lost': len(bad['lost_no_row']) + len(bad['lost_not_listed_to_owner']),
        'duplicated': len(bad['duplicated_image_rows']) + len(bad['duplicated_executions']),
        'unacknowledged_rows': len(set(jobs) - set(accepted)),
        'image_rows': len(images),
        'image_files': len(originals),
        'sidecars': len(sidecars),
        'tmp_files_left': len(tmp_files),
        'prompts_started_on_simulators': sum(started.values()) + len(orphan_prompts),
        'jobs_started_more_than_once': sum(n > 1 for n in started.values()),
        'reruns_after_server_loss': len(bad['reruns_after_server_loss']),
    }
    result.reasons = Counter(
        UUIDISH.sub('#', jobs[j]['error'] or '')[:160] for j, s in statuses.items() if s in ('failed', 'timed_out')
    )
    flagged = [
        j
        for name, ids in bad.items()
        if not name.startswith(('files_', 'sidecars_', 'orphan', 'prompts_'))
        for j in ids
    ]
    for job_id in dict.fromkeys(flagged):
        trail = [f'row: {dict(jobs[job_id]) if job_id in jobs else None}']
        trail += sim_events.get(job_id, [])
        trail += [
            f'{name}: {entry.get("time")} {entry.get("level")} {entry.get("event")}'
            for name, entry in logs
            if isinstance(entry, dict) and job_id in json.dumps(entry)
        ]
        result.trails[job_id] = trail
    return result
