"""Before/after of an img2img result: its input under, the result over, a divider moved by pointer, touch or keys.

Phones (below Tailwind's `sm`) get the two images side by side instead. The divider lives in the browser only: its
moves never reach the server.
"""

from __future__ import annotations

from functools import partial

from nicegui import ui

from vcc_ui.i18n import translate
from vcc_ui.pages.widgets.img import Img
from vcc_ui.services.image_meta import ImageView

COMPARE_JS = """
<script>
window.vccCompare = window.vccCompare || {
  set(el, pct) {
    pct = Math.max(0, Math.min(100, pct));
    el.dataset.pos = pct;
    el.style.setProperty('--pos', pct + '%');
    el.querySelector('[role=slider]')?.setAttribute('aria-valuenow', Math.round(pct));
  },
  at(el, e) {
    const r = el.getBoundingClientRect();
    if (r.width) this.set(el, (e.clientX - r.left) / r.width * 100);
  },
  key(e) {
    const el = e.currentTarget.closest('[data-compare]');
    const now = Number(el.dataset.pos ?? 50), step = e.shiftKey ? 10 : 2;
    const to = {ArrowLeft: now - step, ArrowRight: now + step, Home: 0, End: 100}[e.key];
    if (to === undefined) return;
    e.preventDefault();
    e.stopPropagation();  // the lightbox's arrow keys browse images: not while the divider has the focus
    this.set(el, to);
  },
};
</script>
"""
DOWN_JS = '(e) => { e.currentTarget.setPointerCapture(e.pointerId); window.vccCompare.at(e.currentTarget, e); }'
MOVE_JS = '(e) => { if (e.currentTarget.hasPointerCapture(e.pointerId)) window.vccCompare.at(e.currentTarget, e); }'
CSS = """
.vcc-compare { --pos: 50%; touch-action: none; cursor: ew-resize; }
.vcc-compare .vcc-after { clip-path: inset(0 0 0 var(--pos)); }
.vcc-compare .vcc-divider { left: var(--pos); }
"""


def input_of(image: ImageView) -> str | None:
    """Return the id of the input image an img2img result was made from, if its params name one."""
    value = (image.params or {}).get('input_image')
    return value if isinstance(value, str) and value else None


class CompareView:
    """The input and the result of one image, as a slider (wider screens) or side by side (phones)."""

    def __init__(self, *, lang: str) -> None:
        self.t = partial(translate, lang=lang)
        ui.add_head_html(COMPARE_JS)
        ui.add_css(CSS)
        with ui.column().classes('w-full gap-1 items-center').mark('compare-view') as self.root:
            self.slider = (
                ui.element('div')
                .classes('vcc-compare relative gt-xs select-none overflow-hidden rounded bg-slate-900 mx-auto')
                .props('data-compare')
                .mark('compare-slider')
            )
            with self.slider:
                self.before = self._layer('compare-before')
                self.after = self._layer('compare-after').classes('vcc-after')
                with (
                    ui.element('div')
                    .classes('vcc-divider absolute inset-y-0 w-0.5 -ml-px bg-white shadow')
                    .props('role=slider tabindex=0 aria-valuemin=0 aria-valuemax=100 aria-valuenow=50')
                    .props(f'aria-label="{self.t("cmp_divider")}"')
                    .mark('compare-divider') as divider
                ):
                    ui.icon('unfold_more').classes(
                        'absolute top-1/2 -translate-y-1/2 -translate-x-1/2 left-1/2 rotate-90 rounded-full '
                        'bg-white text-slate-800 text-xl p-1 shadow'
                    )
                divider.on('keydown', js_handler='(e) => window.vccCompare.key(e)')
                ui.label(self.t('cmp_before')).classes(self._tag('left-2'))
                ui.label(self.t('cmp_after')).classes(self._tag('right-2'))
            self.slider.on('pointerdown', js_handler=DOWN_JS)
            self.slider.on('pointermove', js_handler=MOVE_JS)
            ui.label(self.t('cmp_hint')).classes('gt-xs text-xs text-gray-500')
            with ui.element('div').classes('lt-sm grid grid-cols-2 gap-2 w-full').mark('compare-side'):
                self.side_before = self._side('cmp_before', 'compare-side-before')
                self.side_after = self._side('cmp_after', 'compare-side-after')
        self.root.set_visibility(False)

    @staticmethod
    def _layer(marker: str) -> Img:
        img = Img().classes('absolute inset-0 w-full h-full object-contain pointer-events-none').mark(marker)
        img.props('draggable=false')
        return img

    def _side(self, key: str, marker: str) -> Img:
        with ui.column().classes('gap-1 items-center min-w-0'):
            img = Img().classes('w-full h-auto rounded object-contain').mark(marker)
            ui.label(self.t(key)).classes('text-xs text-gray-600')
        return img

    @staticmethod
    def _tag(side: str) -> str:
        return f'absolute top-2 {side} text-xs text-white bg-black/60 rounded px-1.5 py-0.5 pointer-events-none'

    def show(self, before: ImageView, after: ImageView) -> None:
        """Compare an input image with the result made from it (the divider starts in the middle)."""
        width, height = max(1, after.width), max(1, after.height)
        self.slider.style(f'aspect-ratio: {width} / {height}; width: min(100%, calc(70vh * {width} / {height}))')
        self.slider.style('--pos: 50%')
        for img, image, key in (
            (self.before, before, 'cmp_before'),
            (self.side_before, before, 'cmp_before'),
            (self.after, after, 'cmp_after'),
            (self.side_after, after, 'cmp_after'),
        ):
            img.set_source(image.url)
            img.props['alt'] = self.t(key)
        self.root.set_visibility(True)

    def hide(self) -> None:
        """Hide the comparison."""
        self.root.set_visibility(False)
