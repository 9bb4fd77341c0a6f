"""The Generate page's job settings: aspect ratio, seed (random or fixed), batch size and steps."""

from __future__ import annotations

import secrets

from nicegui import ui

from vcc_ui.i18n import t
from vcc_ui.services.workflows import SEED_MAX, STEPS_MAX, STEPS_MIN, Workflow


class JobSettings:
    """One row of settings, each shown only where the workflow takes it."""

    def __init__(self) -> None:
        with ui.row().classes('w-full items-end gap-x-4 gap-y-2'):
            with ui.column().classes('gap-0').mark('aspect-section') as self.aspect_section:
                ui.label(t('gen_aspect')).classes('text-xs text-gray-500')
                self.aspect = ui.toggle([]).props('dense no-caps unelevated toggle-color=primary').mark('aspect')
            with ui.row().classes('items-center no-wrap gap-1') as self.seed_row:
                self.random_seed = ui.switch(t('gen_seed_random'), value=True).mark('seed-random')
                self.seed = (
                    ui.number(t('gen_seed'), min=0, max=SEED_MAX, precision=0, format='%d')
                    .props('dense outlined')
                    .classes('w-40')
                    .mark('seed')
                    .bind_visibility_from(self.random_seed, 'value', backward=lambda v: not v)
                )
                ui.button(icon='casino', on_click=self.roll_seed).props('flat round dense').tooltip(
                    t('gen_seed_roll')
                ).mark('seed-roll')
            self.batch = (
                ui.select([1], value=1, label=t('gen_batch')).props('dense outlined').classes('w-24').mark('batch')
            )
            self.steps = (
                ui.number(t('gen_steps'), min=STEPS_MIN, max=STEPS_MAX, precision=0, format='%d')
                .props('dense outlined')
                .classes('w-24')
                .mark('steps')
            )

    def show_for(self, workflow: Workflow) -> None:
        """Offer the workflow's aspect ratios, batch sizes and default steps; a seed only where the graph takes one."""
        ratios = list(workflow.aspect_ratios)
        self.aspect.set_options(ratios, value=workflow.defaults.aspect_ratio if ratios else None)
        self.aspect_section.set_visibility(bool(ratios))
        self.batch.set_options(list(range(1, workflow.max_batch + 1)), value=1)
        self.batch.set_visibility(workflow.max_batch > 1)
        self.steps.set_value(workflow.defaults.steps)
        self.steps.set_visibility(workflow.accepts('steps'))
        self.seed_row.set_visibility(workflow.accepts('seed'))

    def fix_seed(self, seed: int) -> None:
        """Use this seed instead of a random one."""
        self.random_seed.set_value(False)
        self.seed.set_value(seed)

    def roll_seed(self) -> None:
        """Pick a random fixed seed."""
        self.fix_seed(secrets.randbelow(SEED_MAX + 1))

    def draft(self) -> dict:
        """The settings as chosen."""
        return {
            'aspect': self.aspect.value,
            'batch': self.batch.value,
            'steps': self.steps.value,
            'random_seed': self.random_seed.value,
            'seed': self.seed.value,
        }

    def restore(self, draft: dict) -> None:
        """Put a draft's settings back; those the workflow does not offer keep its defaults."""
        if draft.get('aspect') in self.aspect.options:
            self.aspect.set_value(draft['aspect'])
        if draft.get('batch') in self.batch.options:
            self.batch.set_value(draft['batch'])
        if isinstance(draft.get('steps'), int | float):
            self.steps.set_value(draft['steps'])
        self.random_seed.set_value(draft.get('random_seed', True) is not False)
        self.seed.set_value(draft.get('seed'))

    def apply(self, params: dict) -> None:
        """Use a job's params (aspect ratio, batch size, steps, a fixed seed) where the workflow offers them."""
        self.restore(
            {
                'aspect': params.get('aspect_ratio'),
                'batch': params.get('batch_size'),
                'steps': params.get('steps'),
                'random_seed': params.get('seed') is None,
                'seed': params.get('seed'),
            }
        )
