"""The metadata of one gallery image: prompts, seed, workflow, mode, declared params, size, server, file, dates."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from nicegui import ui

from vcc_ui.i18n import translate
from vcc_ui.pages.weak import weak
from vcc_ui.pages.widgets.time_text import SECONDS, local_time
from vcc_ui.services.image_meta import ImageView, human_bytes
from vcc_ui.services.workflows import Workflow


class ImageMeta:
    """A label and a value per field the image has; trashed images add when they go for good."""

    def __init__(
        self, *, lang: str, workflow_title: Callable[[str], str], workflow: Callable[[str], Workflow | None]
    ) -> None:
        self.lang = lang
        self.t = partial(translate, lang=lang)
        self.workflow_title = weak(workflow_title)
        self.workflow = workflow
        self.column = ui.column().classes('w-full gap-1 text-sm').mark('lightbox-meta')

    def show(self, image: ImageView) -> None:
        """Show the fields of one image."""
        self.column.clear()
        with self.column:
            for key, value in self._rows(image):
                self._row(self.t(key), value, f'meta-{key}')
                if key == 'meta_mode':
                    for pid, label, shown in self._declared(image):
                        self._row(label, shown, f'meta-param-{pid}')

    def _row(self, label: str, value: str, marker: str) -> None:
        with ui.row().classes('w-full no-wrap gap-2'):
            ui.label(label).classes('text-gray-500 shrink-0 w-28')
            ui.label(value).classes('break-words min-w-0 whitespace-pre-wrap').mark(marker)

    def _declared(self, image: ImageView) -> list[tuple[str, str, str]]:
        """The image's values of its workflow's declared parameters: (id, label in the user's language, value)."""
        workflow = self.workflow(image.workflow_id or '')
        recorded = image.params or {}
        if workflow is None:
            return []
        return [
            (pid, param.label_for(self.lang), str(recorded[pid]))
            for pid, param in workflow.params.items()
            if recorded.get(pid) not in (None, '')
        ]

    def _rows(self, image: ImageView) -> list[tuple[str, str]]:
        rows = [
            ('meta_prompt', image.prompt),
            ('meta_prompt_original', image.prompt_original),
            ('meta_negative', image.negative_prompt),
            ('meta_negative_original', image.negative_prompt_original),
            ('meta_llm_action', self._actions(image.llm_action)),
            ('meta_seed', image.seed),
            ('meta_workflow', self.workflow_title(image.workflow_id or '')),
            ('meta_mode', image.mode),
            ('meta_aspect', image.aspect_ratio),
            ('meta_size', f'{image.width} x {image.height}, {human_bytes(image.bytes)}'),
            ('meta_kind', self.t(f'kind_{image.kind}')),
            ('meta_server', image.server),
            ('meta_file', image.original_filename),
            ('meta_created', local_time(image.created_at, SECONDS)),
        ]
        if image.status == 'trash':
            rows.append(
                (
                    'gal_view_trash',
                    self.t('gal_trash_dates', deleted=local_time(image.trashed_at), purge=local_time(image.purge_at)),
                )
            )
        return [(key, str(value)) for key, value in rows if value not in (None, '')]

    def _actions(self, llm_action: str | None) -> str:
        """The prompt helper's accepted actions in words, e.g. 'translated → improved'."""
        words = []
        for action in (llm_action or '').split(','):
            name = action.removeprefix('negative:')
            if name not in ('translate', 'improve'):
                continue
            word = self.t(f'meta_llm_{name}')
            words.append(self.t('meta_llm_negative', action=word) if action.startswith('negative:') else word)
        return ' → '.join(words)
