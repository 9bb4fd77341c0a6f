"""The Generate page's LoRA picker: a searchable list of the LoRAs on the workflow's servers and a strength.

Each LoRA's preview, base model and trigger words show before choosing (the browse dialog, the option labels)
and after (under the select); a LoRA made for another base model than the workflow's is warned about.
"""

from __future__ import annotations

from collections.abc import Iterable

from nicegui import ui

from vcc_ui.i18n import t
from vcc_ui.pages.first_loads import load
from vcc_ui.pages.live import on
from vcc_ui.pages.widgets.lora_browser import LoraInfo, browse_loras, lora_summary
from vcc_ui.services import Services
from vcc_ui.services.comfy.protocol import unified
from vcc_ui.services.lora_fit import lora_mismatch
from vcc_ui.services.loras import LoraSyncStatus, LoraView
from vcc_ui.services.workflows import Workflow

NONE = ''
DEFAULT_STRENGTH = 0.8


def merge_triggers(prompt: str, words: Iterable[str]) -> str:
    """Append trigger words to a prompt, comma-separated, skipping words the prompt already has as a part."""
    present = {part.strip().lower() for part in prompt.split(',')}
    added: list[str] = []
    for word in (w.strip() for w in words):
        if word and word.lower() not in present:
            added.append(word)
            present.add(word.lower())
    if not added:
        return prompt
    base = prompt.strip().rstrip(',').rstrip()
    return ', '.join([base, *added] if base else added)


def lora_label(view: LoraView) -> str:
    """Return the Civitai name with the file name when known, else the file name."""
    civ = view.civitai
    if civ and civ.found and civ.model_name:
        version = f' {civ.version_name}' if civ.version_name else ''
        return f'{civ.model_name}{version} ({unified(view.name).rsplit("/", 1)[-1]})'
    return unified(view.name)


class LoraPicker:
    """A LoRA select with search and a strength slider; choosing a LoRA adds its trigger words to the prompt.

    Its controls are built when a workflow that takes a LoRA is first shown: most forms never show them.
    """

    select: ui.select
    strength: ui.slider
    chosen: ui.row

    def __init__(self, services: Services, *, prompt: ui.textarea) -> None:
        self.services = services
        self.prompt = prompt
        self.workflow_id = ''
        self.base_model: str | None = None
        self.infos: dict[str, LoraInfo] = {}
        self.built = False
        self.root = ui.column().classes('w-full gap-2').mark('lora-picker')
        self.root.set_visibility(False)
        on(services.loras.changed, self._on_sync, owner=self.root)

    def _build(self) -> None:
        self.built = True
        with self.root:
            with ui.row().classes('w-full items-end no-wrap gap-4'):
                self._controls()
            self.chosen = ui.row().classes('w-full items-center no-wrap gap-3').mark('lora-chosen')

    def _controls(self) -> None:
        self.select = (
            ui.select(
                {NONE: t('lora_picker_none')},
                value=NONE,
                label=t('lora_picker'),
                with_input=True,
                on_change=lambda e: self._chosen(e.value),
            )
            .props('dense outlined options-dense')
            .classes('grow min-w-0')
            .mark('lora-select')
        )
        ui.button(icon='collections', on_click=self._browse).props('flat round dense').tooltip(t('lora_browse')).mark(
            'lora-browse'
        )
        with ui.column().classes('gap-0 w-40 shrink-0'):
            caption = ui.label().classes('text-xs text-gray-500')
            self.strength = (
                ui.slider(min=0, max=1.5, step=0.05, value=DEFAULT_STRENGTH).props('dense label').mark('lora-strength')
            )
            caption.bind_text_from(self.strength, 'value', backward=lambda v: f'{t("lora_strength")} {v:.2f}')

    def show_for(self, workflow: Workflow) -> None:
        """Show the picker (cleared) only for a workflow that takes a LoRA, and load that workflow's LoRAs."""
        accepts = workflow.accepts('lora')
        if accepts and not self.built:
            self._build()
        self.root.set_visibility(accepts)
        if self.built:
            self.select.set_value(NONE)
            self.strength.set_value(DEFAULT_STRENGTH)
        self.workflow_id = workflow.id if accepts else ''
        self.base_model = workflow.base_model
        if accepts:
            load(self.load(), name='lora-picker-load', context=self.root)

    def params(self) -> dict:
        """Return the lora and lora_strength params (lora None when none is chosen)."""
        if not self.built:
            return {'lora': None, 'lora_strength': DEFAULT_STRENGTH}
        return {'lora': self.select.value or None, 'lora_strength': float(self.strength.value)}

    async def load(self) -> None:
        """Fill the options with the LoRAs the pool says the workflow offers, labelled by their last sync."""
        workflow_id = self.workflow_id
        if not workflow_id:
            return
        views: dict[str, LoraView] = {}
        for entry in self.services.pool.lora_servers(workflow_id):
            for view in await self.services.loras.loras(entry.id):
                views.setdefault(unified(view.name), view)
        infos = [self._info(name, views.get(unified(name))) for name in self.services.pool.loras_for(workflow_id)]
        if workflow_id != self.workflow_id:
            return
        self.infos = {info.name: info for info in sorted(infos, key=lambda i: (i.mismatch, i.label.lower()))}
        value = self.select.value if self.select.value in self.infos else NONE
        options = {name: f'⚠ {info.label}' if info.mismatch else info.label for name, info in self.infos.items()}
        self.select.set_options({NONE: t('lora_picker_none'), **options}, value=value)
        self._show_chosen()

    def _info(self, name: str, synced: LoraView | None) -> LoraInfo:
        civ = synced.civitai if synced else None
        if civ is None or not civ.found:
            return LoraInfo(name=name, label=lora_label(synced) if synced else unified(name))
        return LoraInfo(
            name=name,
            label=lora_label(synced) if synced else unified(name),
            base_model=civ.base_model,
            preview=LoraInfo.preview_url(civ.preview_path),
            triggers=list(civ.trained_words),
            mismatch=lora_mismatch(self.base_model, civ.base_model),
        )

    def _browse(self) -> None:
        browse_loras(list(self.infos.values()), self.base_model, self._pick)

    def _pick(self, name: str) -> None:
        self.select.set_value(name)

    def _show_chosen(self) -> None:
        self.chosen.clear()
        info = self.infos.get(self.select.value or NONE)
        self.chosen.set_visibility(info is not None)
        if info is not None:
            with self.chosen:
                lora_summary(info, self.base_model)

    def _chosen(self, name: str | None) -> None:
        self._show_chosen()
        info = self.infos.get(name or NONE)
        words = info.triggers if info else []
        merged = merge_triggers(self.prompt.value or '', words)
        if merged != (self.prompt.value or ''):
            self.prompt.set_value(merged)
            ui.notify(t('lora_trigger_added'), position='top')

    async def _on_sync(self, status: LoraSyncStatus) -> None:
        if status.stage == 'done' and self.workflow_id:
            await self.load()
