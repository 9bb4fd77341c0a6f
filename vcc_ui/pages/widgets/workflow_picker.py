"""The Generate page's choice of what runs: one card per workflow that has one, and a tab per mode of that card."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from vcc_ui.i18n import STRINGS, t
from vcc_ui.pages.weak import weak
from vcc_ui.services.workflows import Workflow, WorkflowRegistry

MODE_ICONS = {'txt2img': 'text_fields', 'img2img': 'image', 'upscale': 'zoom_out_map'}


class WorkflowCards:
    """A sideways-scrolling row of cards; a click or Enter on one chooses it, the chosen one is ringed."""

    def __init__(
        self, registry: WorkflowRegistry, parents: list[Workflow], *, lang: str, on_select: Callable[[str], None]
    ) -> None:
        if not parents:
            ui.label(t('gen_no_workflows')).classes('text-gray-500').mark('no-workflows')
        self.cards: dict[str, ui.card] = {}
        self.warnings: dict[str, tuple[ui.icon, ui.tooltip]] = {}
        self.marked: dict[str, str] | None = None  # the reasons the cards show
        with ui.row().classes('w-full no-wrap gap-2 overflow-x-auto p-1').mark('workflow-cards'):
            for workflow in parents:
                with (
                    ui.card()
                    .tight()
                    .classes('p-3 w-56 shrink-0 cursor-pointer gap-1 transition-all')
                    .on('click', lambda w=workflow: on_select(w.id))
                    .mark(f'workflow-{workflow.id}') as card
                ):
                    card.props('tabindex=0').on('keydown.enter', lambda w=workflow: on_select(w.id))
                    with ui.row().classes('w-full items-center no-wrap gap-1'):
                        ui.label(workflow.title_for(lang)).classes('font-medium truncate')
                        if registry.img2img_for(workflow.id):
                            ui.icon('auto_fix_high', size='xs').classes('text-primary').tooltip(t('gen_has_img2img'))
                        elif len(registry.modes_of(workflow.id)) > 1:
                            ui.icon('auto_fix_high', size='xs').classes('text-primary').tooltip(t('gen_has_modes'))
                        ui.space()
                        with (
                            ui.icon('block', size='xs')
                            .classes('text-negative')
                            .mark(f'unavailable-{workflow.id}') as warning
                        ):
                            tip = ui.tooltip('')
                        warning.set_visibility(False)
                        self.warnings[workflow.id] = (warning, tip)
                    ui.label(workflow.description_for(lang)).classes('text-xs text-gray-500 line-clamp-3')
                self.cards[workflow.id] = card

    def mark(self, reasons: dict[str, str]) -> None:
        """Mark the cards of workflows that cannot run now, with the reason on hover."""
        if reasons == self.marked:
            return
        self.marked = dict(reasons)
        for workflow_id, (warning, tip) in self.warnings.items():
            reason = reasons.get(workflow_id, '')
            tip.set_text(reason)
            warning.set_visibility(bool(reason))
            warning.props(f'aria-label="{reason}"' if reason else 'aria-label=""')

    def highlight(self, workflow_id: str) -> None:
        """Ring the chosen card and fade the others."""
        for card_id, card in self.cards.items():
            if card_id == workflow_id:
                card.classes(add='ring-2 ring-primary', remove='opacity-80')
            else:
                card.classes(add='opacity-80', remove='ring-2 ring-primary')


def mode_label(mode: str, workflow: Workflow, lang: str) -> str:
    """Name a mode: the built-in label, else the label its workflow file gives it, else the mode's own name."""
    return t(f'gen_mode_{mode}') if f'gen_mode_{mode}' in STRINGS else workflow.mode_label_for(lang) or mode


class ModeTabs:
    """One tab per mode of the chosen card: its own mode, then each mode it links (`ui.related.<mode>`)."""

    def __init__(self, *, on_change: Callable[[str], None]) -> None:
        self.on_change = weak(on_change)
        self.modes: list[str] = []
        self.tabs = (
            ui.tabs(on_change=lambda e: self.on_change(e.value))
            .props('dense inline-label no-caps align=left')
            .classes('w-full border-b')
            .mark('mode-tabs')
        )

    def show(self, modes: dict[str, Workflow], value: str, *, lang: str) -> None:
        """Offer a card's modes (name -> the workflow it runs) and select one; the same modes are not rebuilt."""
        if list(modes) != self.modes:
            self.modes = list(modes)
            self.tabs.clear()
            with self.tabs:
                for mode, workflow in modes.items():
                    ui.tab(mode, label=mode_label(mode, workflow, lang), icon=MODE_ICONS.get(mode, 'tune')).mark(
                        f'tab-{mode}'
                    ).props(f'data-role=tab-{mode}')
        self.tabs.set_value(value)

    def set(self, mode: str) -> None:
        """Switch to a mode's tab (its change handler runs)."""
        if mode in self.modes:
            self.tabs.set_value(mode)
