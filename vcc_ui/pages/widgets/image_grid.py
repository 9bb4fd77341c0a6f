"""A responsive thumbnail grid over a paged query: infinite scroll, selection, trash dates, per-tile actions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from nicegui import ui

from vcc_ui.i18n import translate
from vcc_ui.pages.weak import weak
from vcc_ui.pages.widgets.grid_tile import GridTile
from vcc_ui.services.image_meta import ImageView
from vcc_ui.services.images import ImagePage

Fetch = Callable[[int, int], Awaitable[ImagePage[ImageView]]]
TileExtras = Callable[[ImageView], None]
OnOpen = Callable[[int], Awaitable[None] | None]

# NOTE: one IntersectionObserver per browser tab; an element with data-infinite gets a DOM 'visible' event whenever
# it comes near the viewport, and `vccRearm(id)` asks again after a page was added (the element may still be in view).
INFINITE_JS = """
if (!window.vccInfinite) {
  window.vccInfinite = new IntersectionObserver((entries) => {
    for (const entry of entries) if (entry.isIntersecting) entry.target.dispatchEvent(new CustomEvent('visible'));
  }, {rootMargin: '600px 0px'});
  const scan = () => document.querySelectorAll('[data-infinite]:not([data-observed])').forEach((el) => {
    el.dataset.observed = '1';
    window.vccInfinite.observe(el);
  });
  new MutationObserver(scan).observe(document.body, {childList: true, subtree: true});
  window.vccRearm = (id) => {
    const el = document.getElementById('c' + id);
    if (el) { window.vccInfinite.unobserve(el); window.vccInfinite.observe(el); }
  };
  scan();
}
"""


class ImageGrid:
    """Shows images newest first, fetching the next page when the end of the grid comes into view."""

    def __init__(
        self,
        *,
        lang: str,
        fetch: Fetch,
        on_open: OnOpen,
        empty_key: str,
        extras: TileExtras | None = None,
        selectable: bool = True,
        page_size: int = 48,
    ) -> None:
        self.t = partial(translate, lang=lang)
        self.fetch = weak(fetch)
        self.on_open = weak(on_open)
        self.empty_key = empty_key
        self.extras = None if extras is None else weak(extras)
        self.selectable = selectable
        self.page_size = page_size
        self.items: list[ImageView] = []
        self.selected: set[str] = set()
        self.tiles: dict[str, GridTile] = {}
        self.total = 0
        self.total_capped = False  # the total is a lower bound (the search stopped counting)
        self.loaded = False
        self.has_more = False
        self._generation = 0
        self._loading = False
        self.on_selection: list[Callable[[], None]] = []
        with ui.column().classes('w-full gap-2'):
            self.count = ui.label().classes('text-sm text-gray-500').mark('gallery-count')
            self.empty = ui.label().classes('text-gray-500 py-8 w-full text-center').mark('images-empty')
            self.grid = (
                ui.element('div')
                .classes('w-full grid gap-2 grid-cols-3 sm:grid-cols-4 md:grid-cols-5 lg:grid-cols-6')
                .mark('image-grid')
            )
            self.more = (
                ui.button(self.t('gal_load_more'), on_click=self.load_more)
                .props('flat no-caps data-infinite')
                .classes('self-center')
                .mark('load-more')
            )
            self.more.on('visible', self.load_more)
        self.empty.set_visibility(False)
        self.more.set_visibility(False)
        ui.run_javascript(INFINITE_JS)

    async def reload(self, empty_key: str | None = None) -> None:
        """Drop what is shown and load the first page again."""
        self._generation += 1
        self._loading = False
        self.empty_key = empty_key or self.empty_key
        self.items, self.tiles, self.loaded, self.has_more = [], {}, False, False
        self.selected.clear()
        self.grid.clear()
        self._notify_selection()
        await self.load_more()

    async def load_more(self) -> None:
        """Append the next page (one load at a time; a reload makes a running load's answer void)."""
        if self._loading or (self.loaded and not self.has_more):
            return
        self._loading = True
        generation = self._generation
        try:
            # NOTE: the page follows what is shown, so images removed here shift no unseen image past the next page
            result = await self.fetch(len(self.items) // self.page_size + 1, self.page_size)
        finally:
            if generation == self._generation:
                self._loading = False
        if generation != self._generation:
            return
        self.loaded = True
        self.total, self.total_capped, self.has_more = result.total, result.total_capped, result.has_more
        known = {item.id for item in self.items}
        for item in result.items:
            if item.id not in known:
                self.items.append(item)
                self._add_tile(item)
        self._refresh_labels()
        if self.has_more:
            ui.run_javascript(f'window.vccRearm && window.vccRearm({self.more.id})')

    def _refresh_labels(self) -> None:
        key = 'gallery_count_capped' if self.total_capped else 'gallery_count'
        self.count.set_text(self.t(key, count=f'{self.total:,}'))
        self.count.set_visibility(bool(self.items))
        self.empty.set_text(self.t(self.empty_key))
        self.empty.set_visibility(not self.items)
        self.more.set_visibility(self.has_more)

    def _add_tile(self, item: ImageView) -> None:
        image_id = item.id
        with self.grid:
            tile = GridTile(
                item,
                alt=self._alt(item),
                trash_text=lambda deleted, purge: self.t('gal_trash_dates', deleted=deleted, purge=purge),
                selectable=self.selectable,
                selected=image_id in self.selected,
                on_open=lambda: self._open(image_id),
                on_select=lambda selected: self.select(image_id, selected),
            )
        self.tiles[image_id] = tile
        self._extras(tile, item)

    def _alt(self, item: ImageView) -> str:
        return item.prompt or self.t(f'kind_{item.kind}')

    def _extras(self, tile: GridTile, item: ImageView) -> None:
        if self.extras:
            with tile:
                self.extras(item)

    def _open(self, image_id: str) -> object:
        index = self.index_of(image_id)
        return self.on_open(index) if index is not None else None

    def index_of(self, image_id: str) -> int | None:
        """Return the position of an image among those shown, or None."""
        return next((i for i, item in enumerate(self.items) if item.id == image_id), None)

    def select(self, image_id: str, selected: bool) -> None:
        """Add an image to the selection or take it out."""
        if selected:
            self.selected.add(image_id)
        else:
            self.selected.discard(image_id)
        self._notify_selection()

    def select_all(self, selected: bool = True) -> None:
        """Select every image shown, or none."""
        self.selected = {item.id for item in self.items} if selected else set()
        for image_id, tile in self.tiles.items():
            tile.value = image_id in self.selected
            tile.props['selected'] = tile.value
        self._notify_selection()

    def _notify_selection(self) -> None:
        for callback in self.on_selection:
            callback()

    def replace(self, item: ImageView) -> None:
        """Show a changed image (favourite, tags) in its tile."""
        index = self.index_of(item.id)
        if index is None:
            return
        self.items[index] = item
        tile = self.tiles[item.id]
        tile.clear()
        tile.show(item, alt=self._alt(item))
        self._extras(tile, item)

    def prepend(self, items: list[ImageView]) -> None:
        """Show new images (newest first) in front of the others."""
        fresh = [item for item in items if item.id not in self.tiles]
        for item in reversed(fresh):
            self._add_tile(item)
            self.tiles[item.id].move(target_index=0)
        self.items[:0] = fresh
        self.total += len(fresh)
        self._refresh_labels()

    def remove(self, image_ids: list[str]) -> None:
        """Take images out of the grid at once (deleted here, restored from the trash)."""
        gone = {image_id for image_id in image_ids if image_id in self.tiles}
        self.items = [item for item in self.items if item.id not in gone]
        for image_id in gone:
            if tile := self.tiles.pop(image_id, None):
                tile.delete()
        self.total = max(0, self.total - len(gone))
        self.selected -= gone
        self._notify_selection()
        self._refresh_labels()
