"""NiceGUI's page-build costs made smaller: the same answers and the same HTML as NiceGUI's own."""

from __future__ import annotations

import functools

import orjson
from nicegui import binding, client, helpers, ui
from nicegui import json as nicegui_json
from nicegui.elements.choice_element import ChoiceElement
from nicegui.helpers.functions import expects_arguments as asked
from nicegui.outbox import Outbox
from nicegui.testing import User

from vcc_ui.pages import speedups


class Handlers:
    """Bound methods with and without arguments, with defaults and variadics."""

    def bare(self) -> None:
        """Take nothing."""

    def takes(self, event: object) -> None:
        """Take the event."""

    def optional(self, event: object = None) -> None:
        """Take the event if given."""

    def variadic(self, *args: object, **kwargs: object) -> None:
        """Take anything."""


def plain(event: object) -> None:
    """A function, not a method."""


async def test_the_kept_answers_are_the_answers_nicegui_gives(user: User) -> None:
    await user.open('/')  # the app is up: root.create installed the kept answers
    speedups.install()  # a second install keeps the first
    cached = helpers.expects_arguments
    assert cached is not asked
    first, second = Handlers(), Handlers()
    handlers = [
        *(getattr(h, name) for h in (first, second) for name in ('bare', 'takes', 'optional', 'variadic')),
        plain,
        lambda: None,
        lambda e: None,
        functools.partial(plain),
        Handlers,
    ]
    for _ in range(2):  # asked, then kept
        assert [cached(h) for h in handlers] == [asked(h) for h in handlers]
    assert [cached(first.takes), cached(first.bare)] == [True, False]


async def test_the_page_html_is_escaped_as_nicegui_escapes_it(user: User) -> None:
    await user.open('/')
    speedups.install()
    escapes = {ord('&'): '&amp;', ord('<'): '&lt;', ord('>'): '&gt;', ord('`'): '&#96;', ord('$'): '&#36;'}
    assert client.HTML_ESCAPE_TABLE == escapes  # NiceGUI's own table, used as NiceGUI uses it
    value = {'a': '<b>&amp; `x` $1 > \u00b7 · 한국어 ~\x7f&lt;', 'all': ''.join(map(chr, range(0x2100)))}
    text = client.json.dumps(value)
    assert isinstance(text, speedups._PageJson)
    assert text == nicegui_json.dumps(value)
    assert text.translate(client.HTML_ESCAPE_TABLE) == nicegui_json.dumps(value).translate(escapes)
    assert text.translate({ord('a'): 'b'}) == nicegui_json.dumps(value).translate({ord('a'): 'b'})  # other tables
    page = (await user.http_client.get('/')).text
    shown = page.split('parseElements(String.raw`', 1)[1].split('`)', 1)[0]
    assert not set('<>`$') & set(shown)
    unescaped = shown.replace('&lt;', '<').replace('&gt;', '>').replace('&#96;', '`').replace('&#36;', '$')
    assert isinstance(orjson.loads(unescaped.replace('&amp;', '&')), dict)


@binding.bindable_dataclass
class Shown:
    """A bindable record like JobView."""

    text: str = ''
    count: int = 0


async def test_bindings_propagate_as_before_and_unbound_sets_skip_the_walk(user: User) -> None:
    await user.open('/')
    speedups.install()
    assert isinstance(binding._propagate, speedups._BoundOnly)
    walked: list[tuple[int, tuple[str, ...]]] = []
    walk = binding._propagate.walk
    binding._propagate.walk = lambda obj, name: (walked.append((id(obj), name)), walk(obj, name))[1]
    try:
        with user:
            source, middle, loose = Shown(text='a'), Shown(), Shown(text='x')
            label = ui.label().bind_text_from(middle, 'text', backward=str.upper)
            binding.bind_from(middle, 'text', source, 'text')  # source -> middle -> label: two hops
            field = ui.input(value='v').bind_value(source, 'count', forward=len, backward=lambda n: 'v' * n)
            assert (middle.text, label.text) == ('a', 'A')
            source.text = 'b'
            assert (middle.text, label.text) == ('b', 'B')
            field.value = 'vvv'
            assert source.count == 3
            source.count = 1
            assert field.value == 'v'
            walked.clear()
            loose.text, loose.count = 'y', 2  # nothing is bound to it: no walk
            assert walked == []
            source.text = 'c'
            assert (id(source), ('text',)) in walked and (middle.text, label.text) == ('c', 'C')
    finally:
        binding._propagate.walk = walk


async def test_a_new_binding_sets_its_own_target_only_and_every_binding_shows_what_nicegui_shows(user: User) -> None:
    # every admin dashboard built for a live job re-evaluated the bindings of every dashboard still open on it
    await user.open('/')
    speedups.install()
    assert isinstance(binding._bind_one_way, speedups._NewLinkOnly)
    worked_out: list[str] = []

    def upper(text: str) -> str:
        worked_out.append(text)
        return text.upper()

    with user:
        source, middle, record = Shown(text='a'), Shown(), {'text': 'r'}
        first = ui.label().bind_text_from(source, 'text', backward=upper)
        assert (first.text, worked_out) == ('A', ['a'])
        second = ui.label().bind_text_from(source, 'text', backward=str.title)
        binding.bind_from(middle, 'text', source, 'text')  # source -> middle -> third: two hops
        third = ui.label().bind_text_from(middle, 'text')
        assert worked_out == ['a']  # the first binding is not worked out again for each new one
        assert (second.text, middle.text, third.text) == ('A', 'a', 'a')
        source.text = 'b'
        assert (first.text, second.text, middle.text, third.text) == ('B', 'B', 'b', 'b')
        assert worked_out == ['a', 'b']
        plain = ui.label().bind_text_from(record, 'text')  # a source that is not bindable: NiceGUI's own way
        assert plain.text == 'r'
        field = ui.input(value='v').bind_value(source, 'count', forward=len, backward=lambda n: 'v' * n)
        assert (field.value, source.count) == ('', 0)  # the backward binding wins the first update, as NiceGUI's
        field.value = 'vv'
        assert source.count == 2


async def test_choices_show_their_options_and_value_as_nicegui_does_and_work_them_out_once_per_change(
    user: User,
) -> None:
    await user.open('/')
    speedups.install()
    assert ChoiceElement.update is speedups._choice_update
    worked: list[object] = []
    work = ChoiceElement._update_options
    ChoiceElement._update_options = lambda self: (worked.append(self), work(self))[1]  # type: ignore[method-assign]
    try:
        with user:
            select = ui.select(['a', 'b'], value='a').props('dense outlined').classes('w-40').props('options-dense')
            toggle = ui.toggle({1: 'one', 2: 'two'}, value=2).props('no-caps').classes('text-xs')
            assert len(worked) == 4  # twice each while created; its props and classes changes work nothing out
            assert [o['label'] for o in select.props['options']] == ['a', 'b'] and select.props['model-value'] == {
                'value': 0,
                'label': 'a',
            }
            assert toggle.props['model-value'] == 1
            select.options.append('c')  # changed in place, then updated: worked out again
            select.update()
            assert [o['label'] for o in select.props['options']] == ['a', 'b', 'c']
            select.set_value('c')
            assert select.props['model-value'] == {'value': 2, 'label': 'c'}
            select.set_options(['x', 'y'])  # the value is no longer an option: none, as NiceGUI has it
            assert select.value is None and [o['label'] for o in select.props['options']] == ['x', 'y']
            toggle.set_options({3: 'three'}, value=3)
            assert toggle.value == 3 and toggle.props['model-value'] == 0
            before = len(worked)
            select.props('clearable')
            toggle.classes('ml-2')
            assert len(worked) == before
    finally:
        ChoiceElement._update_options = work  # type: ignore[method-assign]


async def test_an_element_queued_already_keeps_its_entry_and_is_sent_once_with_its_newest_state(user: User) -> None:
    await user.open('/')
    speedups.install()
    assert Outbox.enqueue_update is speedups._enqueue_update
    with user:
        label = ui.label('first')
        outbox = user.client.outbox
        entry = outbox.updates.data[label.id]
        label.classes('text-sm')
        label.set_text('newest')
        assert outbox.updates.data[label.id] is entry and outbox.updates[label.id] is label
        del outbox.updates[label.id]  # sent: the next change queues it anew
        label.set_text('later')
        assert outbox.updates[label.id] is label and outbox.updates.data[label.id] is not entry
        assert label._to_dict()['text'] == 'later'
