"""The job feed: a job's live state goes to the tabs that show it, never to another user's, and stops with the page."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from nicegui import Event, app, binding, ui
from nicegui.testing import User

from tests.fixtures import wait_for
from vcc_ui.pages import feed_rounds, live
from vcc_ui.pages.live import JobFeed
from vcc_ui.services import Services
from vcc_ui.services.admin import ADMIN_COOKIE
from vcc_ui.services.jobs import JobView
from vcc_ui.simulator import Simulator


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch, user: User) -> list[tuple[dict[str, Any], set[str]]]:
    """Every feed message the app emits, with the clients it went to (the simulated browsers have no socket)."""
    messages: list[tuple[dict[str, Any], set[str]]] = []
    fan_out = live.fan_out

    async def recording(message: dict[str, Any], clients: list[str]) -> None:
        messages.append((message, set(clients)))
        await fan_out(message, clients)

    monkeypatch.setattr(live, 'fan_out', recording)
    return messages


def feed() -> JobFeed:
    """The app's job feed (root.create keeps it on app.state)."""
    return app.state.job_feed


@pytest.mark.app_env(ADMIN_PASSWORD='feed-admin-pw')
async def test_a_job_reaches_its_owners_tabs_and_the_admin_only_newest_step_last(
    user: User, create_user: Callable[[], User], services: Services, sim: Simulator, sent: list
) -> None:
    sim.faults.step_delay = 0.02
    await user.open('/')
    owner = user.client.request.state.user
    second_tab = create_user()  # the same browser (cookie), another tab
    second_tab.http_client.cookies.update(user.http_client.cookies)
    await second_tab.open('/')
    other = create_user()
    await other.open('/')
    admin = create_user()
    admin.http_client.cookies.set(ADMIN_COOKIE, services.admin.cookie_value())
    await admin.open('/admin')
    await admin.should_see(marker='admin-dashboard')
    view = await services.jobs.submit(owner, 'sd15_txt2img', {'prompt': 'only mine', 'seed': 3, 'steps': 12})
    await wait_for(lambda: view.step >= 2)
    assert feed().watchers(view.id) == {user.client.id, second_tab.client.id, admin.client.id}
    await wait_for(lambda: view.finished)
    mine = [(state, to) for state, to in sent if state['id'] == view.id]
    assert mine and all(other.client.id not in to for _, to in mine)  # another user's tab gets nothing of it
    assert all(state['id'] == view.id for state, to in sent if other.client.id in to)
    last = mine[-1][0]
    assert (last['step'], last['steps']) == (12, 12)  # the newest step always goes out
    assert [state['seq'] for state, _ in mine] == sorted({state['seq'] for state, _ in mine})
    await user.should_see(marker='job-thumb', retries=40)  # the final state arrives the usual way
    assert feed().watchers(view.id) == set()  # a finished job's live parts are gone, and its feed with them


async def test_every_tab_of_the_owner_follows_the_status_of_a_job_it_did_not_start(
    user: User, create_user: Callable[[], User], services: Services, sim: Simulator
) -> None:
    """The cards follow the job through the owner's handlers, without a binding per tab on the view's status (each
    new binding propagated to all the others: 500 tabs building one job's card did 500 x 500 of them)."""
    sim.faults.step_delay = 0.05
    await user.open('/')
    owner = user.client.request.state.user
    second_tab = create_user()
    second_tab.http_client.cookies.update(user.http_client.cookies)
    await second_tab.open('/')
    view = await services.jobs.submit(owner, 'sd15_txt2img', {'prompt': 'followed', 'seed': 5, 'steps': 30})
    await wait_for(lambda: view.step >= 2)
    for tab in (user, second_tab):
        await tab.should_see('Running', marker='job-status')
        await tab.should_see(marker='job-cancel')
    assert not any(key[0] == id(view) for key in binding.bindings)
    await wait_for(lambda: view.finished)
    for tab in (user, second_tab):
        await tab.should_see('Done', marker='job-status', retries=40)
        await tab.should_not_see(marker='job-cancel')


async def test_a_page_that_left_gets_nothing_more(user: User, services: Services, sim: Simulator, sent: list) -> None:
    sim.faults.step_delay = 0.05
    baseline = feed().counts()
    await user.open('/')
    owner = user.client.request.state.user
    view = await services.jobs.submit(owner, 'sd15_txt2img', {'prompt': 'left', 'seed': 4, 'steps': 40})
    await wait_for(lambda: view.step >= 2)
    assert feed().watchers(view.id) == {user.client.id}
    user.find(marker='nav-nav_gallery').click()
    await user.should_see(marker='gallery-filters')
    assert feed().watchers(view.id) == set()
    sent.clear()
    step = view.step
    await wait_for(lambda: view.step >= step + 5)
    assert [state for state, to in sent if user.client.id in to] == []
    await services.jobs.cancel(view.id)
    await wait_for(lambda: view.finished)
    user.client.delete()
    assert feed().counts() == baseline  # no handler or watcher of the tab is left behind


async def test_a_job_many_tabs_watch_sends_its_newest_state_less_often_and_the_last_step_at_once(
    user: User, sent: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feed_rounds, 'FEED_BUDGET', 3)  # 3 watchers: at most one message a second
    changed: Event[JobView] = Event()
    job_feed = JobFeed(changed)
    view = JobView(id='f' * 32, owner='someone', workflow_id='w', mode='txt2img', params={}, status='running')
    view.steps = 20
    for client_id in ('tab-1', 'tab-2', 'tab-3'):
        job_feed.watch(view, client_id)

    def steps_sent() -> list[int]:
        return [state['step'] for state, to in sent if state['id'] == view.id and to == {'tab-1', 'tab-2', 'tab-3'}]

    def step(value: int) -> None:
        view.step = value
        changed.emit(view)

    step(1)
    await wait_for(lambda: steps_sent() == [1])  # the first change goes out at once
    sent_at = asyncio.get_running_loop().time()
    for value in (2, 3):
        step(value)
    await asyncio.sleep(0.2)
    assert steps_sent() == [1]  # ... the next ones within the interval are held
    await asyncio.sleep(max(0.0, sent_at + 1.2 - asyncio.get_running_loop().time()))
    step(4)
    await wait_for(lambda: steps_sent() == [1, 4])  # ... a step after the interval goes at once, fresh: 2, 3 never
    step(5)
    await wait_for(lambda: steps_sent() == [1, 4, 5])  # ... a held step no newer one replaces goes late
    step(20)
    await asyncio.sleep(0.2)
    assert steps_sent() == [1, 4, 5, 20]  # the last step does not wait


class EightTabs:
    """A running 20-step job of someone's that eight tabs watch, through a feed on a fake clock (`now`)."""

    def __init__(self, letter: str, sent: list) -> None:
        self.now = 100.0
        self.changed: Event[JobView] = Event()
        self.feed = JobFeed(self.changed, clock=lambda: self.now)
        self.view = JobView(
            id=letter * 32, owner='someone', workflow_id='w', mode='txt2img', params={}, status='running'
        )
        self.view.steps = 20
        self.tabs = [f'tab-{i}' for i in range(8)]
        for client_id in self.tabs:
            self.feed.watch(self.view, client_id)
        self.sent = sent

    def mine(self) -> list[tuple[int, set[str]]]:
        """(step, tabs sent to) of each message of this job so far."""
        return [(state['step'], to) for state, to in self.sent if state['id'] == self.view.id]

    def step(self, value: int) -> None:
        """The job reaches step `value`."""
        self.view.step = value
        self.changed.emit(self.view)


async def test_a_step_of_a_job_many_tabs_watch_goes_to_the_tabs_sent_to_least_recently_and_a_pause_catches_up(
    user: User, sent: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Steps faster than the budget go each to a share of the tabs, in turn, instead of to all of them every few
    steps: each tab still gets the newest state once a round (0.5 s here), and every fan-out is smaller."""
    monkeypatch.setattr(feed_rounds, 'FEED_BUDGET', 16)  # 8 tabs: a round of them takes 0.5 s
    job = EightTabs('d', sent)
    tabs, mine, step = job.tabs, job.mine, job.step

    step(1)
    await wait_for(lambda: len(mine()) == 1)
    for value in (2, 3, 4):  # 0.125 s apart: 2 tab messages each
        job.now += 0.125
        step(value)
        await wait_for(lambda value=value: len(mine()) == value)
    assert mine() == [(1, set(tabs)), (2, set(tabs[0:2])), (3, set(tabs[2:4])), (4, set(tabs[4:6]))]
    job.now += 1.0  # the job pauses: two rounds later every tab without step 4 gets it
    await wait_for(lambda: len(mine()) == 5)
    assert mine()[-1] == (4, set(tabs) - set(tabs[4:6]))
    job.now += 0.125
    step(20)  # the last step goes to every tab at once
    await wait_for(lambda: len(mine()) == 6)
    assert mine()[-1] == (20, set(tabs))
    for client_id in tabs:  # each tab's states come in order, the newest last
        seqs = [state['seq'] for state, to in sent if client_id in to]
        assert seqs == sorted(set(seqs)) and [s for s, to in mine() if client_id in to][-1] == 20


async def test_a_step_after_a_pause_goes_to_a_burst_of_tabs_at_most_and_the_others_follow_in_shares(
    user: User, sent: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step after a stall of the loop went to every tab at once: the last of 500 waited for 499 writes."""
    monkeypatch.setattr(feed_rounds, 'FEED_BUDGET', 16)  # 8 tabs: a round of them takes 0.5 s
    monkeypatch.setattr(feed_rounds, 'FEED_BURST', 3)
    job = EightTabs('b', sent)
    tabs, mine, step = job.tabs, job.mine, job.step

    step(1)
    await wait_for(lambda: len(mine()) == 1)
    job.now += 1.0  # the job pauses: two rounds later the next share of the tabs behind, then the rest
    await wait_for(lambda: len(mine()) == 2)
    job.now += 1.0
    await wait_for(lambda: len(mine()) == 3)
    assert mine() == [(1, set(tabs[:3])), (1, set(tabs[3:6])), (1, set(tabs[6:]))]
    step(20)  # the last step (a status change too) goes to every tab at once, whatever the burst
    await wait_for(lambda: len(mine()) == 4)
    assert mine()[-1] == (20, set(tabs))


async def test_the_owners_handlers_hear_of_a_new_job_and_each_status_not_of_each_step(user: User) -> None:
    """Progress reaches the tabs by the feed message alone: 500 tabs' handlers ran for each step of a job before."""
    await user.open('/')
    changed: Event[JobView] = Event()
    job_feed = JobFeed(changed)
    heard: list[tuple[str, int]] = []
    with user.client:
        owner = ui.column()
    job_feed.on_jobs_of('someone', lambda view: heard.append((view.status, view.step)), owner=owner)
    view = JobView(id='e' * 32, owner='someone', workflow_id='w', mode='txt2img', params={}, status='queued')
    view.steps = 5
    changed.emit(view)
    view.status = 'running'
    for step in range(1, 6):
        view.step = step
        changed.emit(view)
    view.status = 'completed'
    changed.emit(view)
    assert heard == [('queued', 0), ('running', 1), ('completed', 5)]


async def test_the_tabs_of_a_user_showing_a_finished_job_read_its_images_once(
    user: User, create_user: Callable[[], User], services: Services, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each of 500 tabs read the finished job's image rows itself: 500 queries for the same rows at the job's end."""
    sim.faults.step_delay = 0.02
    reads: list[list[str]] = []
    many = services.images.many

    async def counted(owner: str, image_ids: list[str]) -> dict:
        reads.append(image_ids)
        return await many(owner, image_ids)

    monkeypatch.setattr(services.images, 'many', counted)
    await user.open('/')
    owner = user.client.request.state.user
    tabs = [user]
    for _ in range(2):
        tab = create_user()
        tab.http_client.cookies.update(user.http_client.cookies)
        await tab.open('/')
        tabs.append(tab)
    await asyncio.sleep(0.5)  # the history each tab loads on open
    reads.clear()
    view = await services.jobs.submit(owner, 'sd15_txt2img', {'prompt': 'shared', 'seed': 6, 'steps': 4})
    await wait_for(lambda: view.finished)
    for tab in tabs:
        await tab.should_see(marker='job-thumb', retries=40)
    assert reads == [view.image_ids]  # one query for the three tabs


async def test_a_shared_read_runs_once_for_those_asking_meanwhile_and_survives_one_leaving(user: User) -> None:
    job_feed = JobFeed(Event())
    started: list[int] = []
    release = asyncio.Event()

    async def read() -> int:
        started.append(1)
        await release.wait()
        return len(started)

    first = asyncio.ensure_future(job_feed.shared('key', read))
    second = asyncio.ensure_future(job_feed.shared('key', read))
    leaving = asyncio.ensure_future(job_feed.shared('key', read))
    await asyncio.sleep(0)
    leaving.cancel()  # a tab that goes does not cancel the read of the others
    release.set()
    assert (await first, await second, started) == (1, 1, [1])
    assert await job_feed.shared('key', read) == 2  # a read after it finished runs again: nothing is kept
