"""Six costs NiceGUI pays on every page build, made smaller (`install`, from the root page's setup).

Signatures: every NiceGUI element makes three observable collections (its classes, style and props), and each asks
`nicegui.helpers.expects_arguments` about its bound `_update` method: one `inspect.signature` per collection, about a
sixth of a page build's CPU with a full history (py-spy, issue 16 item 4). Whether a bound method expects arguments
depends on its function only, so the answer is kept per function (weakly: a function that goes takes its answer
along); every other kind of callable is asked as before.

The page's HTML escape: `Client.build_response` escapes the JSON of every element with `str.translate` and a dict
table, a dict lookup per character: 3 ms for a 65 KB gallery page. Its `json` module is given a `dumps` whose text
escapes the same five characters with one `str.replace` each when translated with that table: the same text, 1/40 of
the time.

Bindings: every bindable property set (an element's text, value and visibility at its creation, each field of a new
JobView) walks the property's bindings through `binding._propagate`, which sets up a context variable and a visited set
first: a tenth of a Generate build. A property nothing is bound to has nothing to walk, so the walk starts only when the
binding table has an entry for it (the walk itself is NiceGUI's).

New bindings: binding a property to a bindable source (`bind_text_from(view, 'status')`) updates every binding of
that source, old and new, through `binding._propagate`: each admin dashboard built for a live job re-evaluated the
bindings of every dashboard still open on it (the page bench's `/admin` spent a fifth of its CPU there after 150
builds, growing with each). A bindable source propagates every change of its own, so its older bindings are up to
date already: only the new one is set (and walked on from its target, as NiceGUI's walk would). A source that is not
a bindable property (an active link) is bound by NiceGUI's code as before.

Choices: a select, toggle or radio works its options out anew (a fresh observed dict per option) on every change of
its props or classes, a dozen times while a page builds it: a tenth of a Generate build. It is worked out again only
when its options or its value differ from those it was last worked out from (a copy of each is kept, so options
changed in place count); the rest of the update is NiceGUI's.

The outbox: every element's creation, every change of its props, classes or style, and every child added to it
queues the element again (`Outbox.enqueue_update`), five times per element while a page builds; each time the
weak-value dict of queued elements made a new weak reference for the same entry. An element already queued is left
as it is (the same entry, the same send); the event that wakes the outbox is set as before.
"""

from __future__ import annotations

import copy
import types
import weakref
from collections.abc import Callable

from nicegui import binding, client, helpers
from nicegui.element import Element
from nicegui.elements.choice_element import ChoiceElement
from nicegui.outbox import Outbox


def install() -> None:
    """Put both in place (once per process; a second call changes nothing)."""
    cache_handler_signatures()
    escape_by_replace()
    propagate_only_bound()
    set_new_links_only()
    choices_once()
    queue_once()


def escape_by_replace() -> None:
    """Give NiceGUI's page builder a `json` whose texts escape its HTML table by replaces (once per process)."""
    if not isinstance(client.json, _ReplacingJson):
        client.json = _ReplacingJson(client.json, client.HTML_ESCAPE_TABLE)  # type: ignore[assignment]


class _ReplacingJson:
    """NiceGUI's json module whose `dumps` returns a `_PageJson` (the rest is the module's)."""

    def __init__(self, module: types.ModuleType, table: dict[int, str]) -> None:
        self.module = module
        self.table = table
        ampersand = table.get(ord('&'))  # first, or it would escape the other escapes' own ampersands
        self.replaces = ([('&', ampersand)] if ampersand else []) + [
            (chr(code), text) for code, text in table.items() if code != ord('&')
        ]

    def __getattr__(self, name: str) -> object:
        return getattr(self.module, name)

    def dumps(self, *args: object, **kwargs: object) -> _PageJson:
        """The module's `dumps`, as a text that escapes itself by replaces."""
        text = _PageJson(self.module.dumps(*args, **kwargs))
        text.escapes = self
        return text


class _PageJson(str):
    """A JSON text whose `translate` with the page's escape table is one `replace` per escaped character."""

    escapes: _ReplacingJson

    def translate(self, table: object) -> str:
        """The text translated by `table` (for the page's escape table: by replaces, to the same text)."""
        if table is not self.escapes.table:
            return str.translate(self, table)  # type: ignore[arg-type]
        text = str(self)
        for char, escaped in self.escapes.replaces:
            text = text.replace(char, escaped)
        return text


def propagate_only_bound() -> None:
    """Make `binding._propagate` return at once for a property no binding starts from (once per process)."""
    walk: Callable[[object, tuple[str, ...]], None] = binding._propagate
    if isinstance(walk, _BoundOnly):
        return
    binding._propagate = _BoundOnly(walk)


class _BoundOnly:
    """`binding._propagate` that walks only from a property some binding starts from."""

    def __init__(self, walk: Callable[[object, tuple[str, ...]], None]) -> None:
        self.walk = walk

    def __call__(self, source_obj: object, source_name: tuple[str, ...]) -> None:
        """Propagate a change of `source_obj.source_name` along its bindings (nothing to do without one)."""
        if (id(source_obj), source_name) in binding.bindings:
            self.walk(source_obj, source_name)


def set_new_links_only() -> None:
    """Make a new binding from a bindable property set its own target only, not every binding of its source."""
    bind: Callable[..., None] = binding._bind_one_way
    if isinstance(bind, _NewLinkOnly):
        return
    binding._bind_one_way = _NewLinkOnly(bind)


class _NewLinkOnly:
    """`binding._bind_one_way` whose first update goes along the new link only when its source is bindable."""

    def __init__(self, bind: Callable[..., None]) -> None:
        self.bind = bind

    def __call__(
        self,
        source_obj: object,
        source_name: tuple[str, ...],
        target_obj: object,
        target_name: tuple[str, ...],
        transform: Callable[[object], object] | None,
    ) -> None:
        """Register the binding and set its target from the source (NiceGUI's own way for a source not bindable)."""
        key = (id(source_obj), source_name)
        if key not in binding.bindable_properties:
            self.bind(source_obj, source_name, target_obj, target_name, transform)
            return
        binding.bindings[key].append((source_obj, target_obj, target_name, transform))
        binding._binding_keys_by_object[id(source_obj)].add(key)
        binding._binding_keys_by_object[id(target_obj)].add(key)
        token = binding.propagation_visited.set({key})
        try:
            value = binding._get_attribute(source_obj, source_name)
            if value is binding._MISSING:
                return
            value = transform(value) if transform else value
            current = binding._get_attribute(target_obj, target_name)
            if current is binding._MISSING or current != value:
                binding._set_attribute(target_obj, target_name, value)
                binding._propagate_recursively(target_obj, target_name)
        finally:
            binding.propagation_visited.reset(token)


def queue_once() -> None:
    """Make the outbox queue an element only when it is not queued already (once per process)."""
    if Outbox.enqueue_update is not _enqueue_update:
        Outbox.enqueue_update = _enqueue_update  # type: ignore[method-assign]


def _enqueue_update(self: Outbox, element: Element) -> None:
    """Outbox.enqueue_update, without renewing the entry of an element that is queued already."""
    self.client.check_existence()
    if self.updates.get(element.id) is not element:
        self.updates[element.id] = element
    self._set_enqueue_event()


def choices_once() -> None:
    """Make a choice element work its options out only when they or its value changed (once per process)."""
    if ChoiceElement.update is not _choice_update:
        ChoiceElement.update = _choice_update  # type: ignore[method-assign]


def _choice_update(self: ChoiceElement) -> None:
    """ChoiceElement.update, its options worked out only when they or the value differ from the last time."""
    kept = vars(self)
    if kept.get('_worked_out') != (self.options, self.value):
        with self._props.suspend_updates():
            self._update_values_and_labels()
            self._update_options()
        kept['_worked_out'] = (copy.copy(self.options), copy.copy(self.value))
    super(ChoiceElement, self).update()


def cache_handler_signatures() -> None:
    """Make `helpers.expects_arguments` answer a bound method from its function's kept answer (once per process)."""
    asked: Callable[[Callable], bool] = helpers.expects_arguments
    if isinstance(asked, _Cached):
        return
    helpers.expects_arguments = _Cached(asked)


class _Cached:
    """`expects_arguments` with one answer kept per function of a bound method."""

    def __init__(self, asked: Callable[[Callable], bool]) -> None:
        self.asked = asked
        self.answers: weakref.WeakKeyDictionary[types.FunctionType, bool] = weakref.WeakKeyDictionary()

    def __call__(self, func: Callable) -> bool:
        """Whether calling `func` needs arguments (the kept answer for a bound method's function)."""
        if not (isinstance(func, types.MethodType) and isinstance(func.__func__, types.FunctionType)):
            return self.asked(func)
        answer = self.answers.get(func.__func__)
        if answer is None:
            answer = self.answers[func.__func__] = self.asked(func)
        return answer
