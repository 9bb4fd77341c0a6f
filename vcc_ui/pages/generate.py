"""The Generate page: pick a workflow and mode, write a prompt, add an input image, queue and follow jobs."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

from nicegui import app, background_tasks, context, ui

from vcc_ui.i18n import STRINGS, language, t
from vcc_ui.pages.frame import DRAFT_KEY
from vcc_ui.pages.widgets.image_slot import ImageSlot
from vcc_ui.pages.widgets.jobs_panel import JobsPanel
from vcc_ui.pages.widgets.lightbox import Lightbox
from vcc_ui.pages.widgets.lora_picker import LoraPicker
from vcc_ui.pages.widgets.thumb_strip import ThumbStrip
from vcc_ui.services import Services
from vcc_ui.services.image_meta import ImageView
from vcc_ui.services.images import ImageProblem
from vcc_ui.services.jobs import SubmitError
from vcc_ui.services.storage import ImageRejected
from vcc_ui.services.workflows import SEED_MAX, STEPS_MAX, STEPS_MIN, Template, Workflow

STRIP_SIZE = 24
REJECT_KEYS = {
    'too_large': 'gen_upload_too_large',
    'type_not_allowed': 'gen_upload_type',
    'not_an_image': 'gen_upload_not_image',
    'bomb': 'gen_upload_not_image',
}


def page(services: Services) -> None:
    """Build the Generate page for the browser's anonymous user."""
    generate = GeneratePage(services, context.client.request.state.user)
    app.storage.client[DRAFT_KEY] = generate.draft  # the language switch keeps what was typed
    if draft := app.storage.user.pop(DRAFT_KEY, None):
        generate.restore(draft)
    elif urlsplit(context.client.sub_pages_router.current_path).query:
        background_tasks.create(
            prefill(generate, context.client.sub_pages_router.current_path),
            name='generate-prefill',
            context=generate.strip.root,
        )


class GeneratePage:
    """The form on the left (top on a phone), the user's jobs on the right (below)."""

    def __init__(self, services: Services, user: str) -> None:
        self.services = services
        self.user = user
        self.lang = language()
        parents = services.registry.parents()
        self.parent: Workflow | None = parents[0] if parents else None
        self.mode = 'txt2img'
        self.lightbox = Lightbox(lang=self.lang, workflow_title=lambda w: services.registry.title(w, self.lang))
        with ui.element('div').classes(
            'w-full max-w-7xl mx-auto grid grid-cols-1 lg:grid-cols-12 gap-4 items-start p-2 sm:p-4'
        ):
            with ui.column().classes('lg:col-span-7 gap-3 min-w-0 w-full').mark('generate-form'):
                self._build_form(parents)
            with ui.column().classes('lg:col-span-5 gap-2 min-w-0 w-full lg:sticky lg:top-20'):
                ui.label(t('jobs_title')).classes('text-lg font-medium')
                self.jobs = JobsPanel(
                    services, user, lang=self.lang, on_open=self.lightbox.open, on_images=self._new_images
                )
        if self.parent is not None:
            self._apply_workflow()
        background_tasks.create(self._load_recent(), name='generate-recent', context=self.strip.root)

    # ---- layout ----------------------------------------------------------------------------------------------

    def _build_form(self, parents: list[Workflow]) -> None:
        if not parents:
            ui.label(t('gen_no_workflows')).classes('text-gray-500').mark('no-workflows')
        self.cards: dict[str, ui.card] = {}
        with ui.row().classes('w-full no-wrap gap-2 overflow-x-auto p-1').mark('workflow-cards'):
            for workflow in parents:
                with (
                    ui.card()
                    .tight()
                    .classes('p-3 w-56 shrink-0 cursor-pointer gap-1 transition-all')
                    .on('click', lambda w=workflow: self.select(w.id))
                    .mark(f'workflow-{workflow.id}') as card
                ):
                    card.props('tabindex=0').on('keydown.enter', lambda w=workflow: self.select(w.id))
                    with ui.row().classes('w-full items-center no-wrap gap-1'):
                        ui.label(workflow.title_for(self.lang)).classes('font-medium truncate')
                        if self.services.registry.img2img_for(workflow.id):
                            ui.icon('auto_fix_high', size='xs').classes('text-primary').tooltip(t('gen_has_img2img'))
                    ui.label(workflow.description_for(self.lang)).classes('text-xs text-gray-500 line-clamp-3')
                self.cards[workflow.id] = card
        with (
            ui.tabs(on_change=lambda e: self.switch_mode(e.value))
            .props('dense inline-label no-caps align=left')
            .classes('w-full border-b')
            .mark('mode-tabs') as self.tabs
        ):
            ui.tab('txt2img', label=t('gen_mode_txt2img'), icon='text_fields').mark('tab-txt2img')
            self.img2img_tab = (
                ui.tab('img2img', label=t('gen_mode_img2img'), icon='image')
                .mark('tab-img2img')
                .props('data-role=tab-img2img')
            )
        self.tabs.set_value('txt2img')
        self.prompt = (
            ui.textarea(t('gen_prompt'))
            .props('outlined autogrow clearable')
            .classes('w-full')
            .mark('prompt')
            .on('keydown.ctrl.enter', self.generate)
            .on('keydown.meta.enter', self.generate)
        )
        self.negative = (
            ui.textarea(t('gen_negative'))
            .props('outlined autogrow dense')
            .classes('w-full')
            .mark('negative')
            .on('keydown.ctrl.enter', self.generate)
            .on('keydown.meta.enter', self.generate)
        )
        with ui.column().classes('w-full gap-1'):
            ui.label(t('gen_templates')).classes('text-xs text-gray-500')
            self.templates = ui.row().classes('w-full gap-1').mark('templates')
        self.lora = LoraPicker(self.services, prompt=self.prompt)
        with ui.column().classes('w-full gap-2').mark('input-section') as self.input_section:
            ui.label(t('gen_input_image')).classes('text-sm font-medium')
            self.slot = ImageSlot(
                lang=self.lang,
                max_bytes=self.services.settings.controls_max_bytes,
                on_image_id=self.use_image,
                on_file=self.upload,
            )
            self.strip = ThumbStrip(lang=self.lang, on_pick=self.use_image, limit=STRIP_SIZE)
        with ui.row().classes('w-full items-end gap-x-4 gap-y-2'):
            with ui.column().classes('gap-0').mark('aspect-section') as self.aspect_section:
                ui.label(t('gen_aspect')).classes('text-xs text-gray-500')
                self.aspect = ui.toggle([]).props('dense no-caps unelevated toggle-color=primary').mark('aspect')
            with ui.row().classes('items-center no-wrap gap-1'):
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
        with ui.row().classes('w-full items-center gap-3'):
            self.button = (
                ui.button(t('gen_submit'), icon='auto_awesome', on_click=self.generate)
                .props('unelevated size=lg no-caps')
                .classes('grow sm:grow-0 px-8')
                .mark('generate')
                .props('data-role=generate')
            )
            ui.label(t('gen_shortcut')).classes('text-xs text-gray-400 gt-xs')
        self.message = ui.label().classes('text-sm text-negative w-full').mark('generate-message')
        self.message.set_visibility(False)

    # ---- workflow and mode -------------------------------------------------------------------------------------

    @property
    def workflow(self) -> Workflow | None:
        """The workflow a job would run now: the card's, or its linked edit workflow in Img2Img mode."""
        if self.parent is None:
            return None
        linked = self.services.registry.img2img_for(self.parent.id)
        return linked if self.mode == 'img2img' and linked else self.parent

    def select(self, workflow_id: str) -> None:
        """Select a workflow card; the mode falls back to Txt2Img."""
        workflow = self.services.registry.get(workflow_id)
        if workflow is None:
            return
        self.parent, self.mode = workflow, 'txt2img'
        self.tabs.set_value('txt2img')
        self._apply_workflow()

    def switch_mode(self, mode: str) -> None:
        """Switch between Txt2Img and Img2Img, loading that workflow's defaults and templates."""
        if mode == self.mode:
            return
        self.mode = (
            mode
            if mode == 'img2img' and self.parent and self.services.registry.img2img_for(self.parent.id)
            else 'txt2img'
        )
        self._apply_workflow()

    def _apply_workflow(self) -> None:
        workflow = self.workflow
        if workflow is None:
            return
        for workflow_id, card in self.cards.items():
            if self.parent and workflow_id == self.parent.id:
                card.classes(add='ring-2 ring-primary', remove='opacity-80')
            else:
                card.classes(add='opacity-80', remove='ring-2 ring-primary')
        self.img2img_tab.set_visibility(self.services.registry.img2img_for(self.parent.id) is not None)
        self.prompt.set_value(workflow.defaults.prompt)
        self.negative.set_value(workflow.defaults.negative_prompt)
        self.negative.set_visibility(workflow.accepts('negative_prompt'))
        self.templates.clear()
        with self.templates:
            for template in workflow.templates:
                ui.chip(
                    template.title_for(self.lang), icon='lightbulb', on_click=lambda tp=template: self.fill(tp)
                ).props('clickable outline color=primary').mark('template')
        ratios = list(workflow.aspect_ratios)
        self.aspect.set_options(ratios, value=workflow.defaults.aspect_ratio if ratios else None)
        self.aspect_section.set_visibility(bool(ratios))
        self.batch.set_options(list(range(1, workflow.max_batch + 1)), value=1)
        self.batch.set_visibility(workflow.max_batch > 1)
        self.steps.set_value(workflow.defaults.steps)
        self.steps.set_visibility(workflow.accepts('steps'))
        self.input_section.set_visibility(workflow.needs_input_image)
        self.lora.show_for(workflow)
        self._say('')

    def draft(self) -> dict:
        """The form as it stands (what a reload in another language should keep)."""
        return {
            'workflow': self.parent.id if self.parent else None,
            'mode': self.mode,
            'prompt': self.prompt.value,
            'negative': self.negative.value,
            'aspect': self.aspect.value,
            'batch': self.batch.value,
            'steps': self.steps.value,
            'random_seed': self.random_seed.value,
            'seed': self.seed.value,
        }

    def restore(self, draft: dict) -> None:
        """Put a draft back into the form; parts that no longer fit the workflow keep its defaults."""
        if draft.get('workflow') in self.cards:
            self.select(draft['workflow'])
        if draft.get('mode') == 'img2img':
            self.tabs.set_value('img2img')
        self.prompt.set_value(draft.get('prompt') or self.prompt.value)
        self.negative.set_value(draft.get('negative') or '')
        if draft.get('aspect') in self.aspect.options:
            self.aspect.set_value(draft['aspect'])
        if draft.get('batch') in self.batch.options:
            self.batch.set_value(draft['batch'])
        if isinstance(draft.get('steps'), int | float):
            self.steps.set_value(draft['steps'])
        self.random_seed.set_value(draft.get('random_seed', True) is not False)
        self.seed.set_value(draft.get('seed'))

    def fill(self, template: Template) -> None:
        """Put a template's prompt and negative prompt into the form."""
        self.prompt.set_value(template.prompt)
        self.negative.set_value(template.negative_prompt)

    def roll_seed(self) -> None:
        """Pick a random fixed seed."""
        self.random_seed.set_value(False)
        self.seed.set_value(secrets.randbelow(SEED_MAX + 1))

    # ---- input image -------------------------------------------------------------------------------------------

    async def use_image(self, image_id: str) -> None:
        """Put one of the user's images into the input slot (generated ones are copied to the inputs first)."""
        row = await self.services.images.get(self.user, image_id)
        if row is None:
            self.slot.show_error(t('gen_image_missing'))
            return
        if row.kind != 'input':
            try:
                row = await self.services.images.copy_to_inputs(self.user, image_id)
            except (ImageRejected, ImageProblem) as error:
                self.slot.show_error(t('gen_upload_failed', reason=str(error)))
                return
            self.strip.add(row)
        self.slot.set(row)

    async def upload(self, data: bytes, filename: str) -> None:
        """Store an uploaded file in the inputs library and select it; a bad file gets a clear reason."""
        try:
            row = await self.services.images.upload_input(self.user, data, filename)
        except (ImageRejected, ImageProblem) as error:
            key = REJECT_KEYS.get(getattr(error, 'code', ''))
            message = (
                t(key, mb=f'{self.services.settings.controls_max_bytes / 2**20:.0f}')
                if key
                else t('gen_upload_failed', reason=str(error))
            )
            self.slot.show_error(message)
            ui.notify(message, type='warning')
            return
        self.strip.add(row)
        self.slot.set(row)

    def _new_images(self, images: list[ImageView]) -> None:
        for image in reversed(images):
            self.strip.add(image)

    async def _load_recent(self) -> None:
        result = await self.services.images.page(self.user, size=STRIP_SIZE)
        self.jobs.remember(result.items)
        for image in result.items:
            self.strip.add(image, front=False)

    # ---- submit ------------------------------------------------------------------------------------------------

    def _params(self, workflow: Workflow) -> dict:
        params: dict = {'prompt': self.prompt.value or '', 'negative_prompt': self.negative.value or ''}
        if not self.random_seed.value and self.seed.value is not None:
            params['seed'] = int(self.seed.value)
        if workflow.aspect_ratios and self.aspect.value:
            params['aspect_ratio'] = self.aspect.value
        if workflow.max_batch > 1:
            params['batch_size'] = int(self.batch.value or 1)
        if workflow.accepts('steps') and self.steps.value:
            params['steps'] = int(self.steps.value)
        if workflow.needs_input_image:
            params['input_image'] = self.slot.image.id if self.slot.image else None
        if workflow.accepts('lora'):
            params.update(self.lora.params())
        return params

    def _say(self, message: str, *, notify: bool = False) -> None:
        self.message.set_text(message)
        self.message.set_visibility(bool(message))
        if notify and message:
            ui.notify(message, type='warning', position='top')

    async def generate(self) -> None:
        """Pre-check ComfyUI, then queue the job; every refusal is shown, nothing fails silently."""
        workflow = self.workflow
        if workflow is None or self.button.props.get('loading'):
            return
        if not (self.prompt.value or '').strip():
            return self._say(t('gen_need_prompt'), notify=True)
        if not self.random_seed.value and self.seed.value is None:
            return self._say(t('gen_need_seed'), notify=True)
        if workflow.needs_input_image and self.slot.image is None:
            self.slot.show_error(t('gen_need_input'))
            return self._say(t('gen_need_input'), notify=True)
        self.button.props('loading')
        try:
            reason = await self.services.pool.precheck(workflow.id)
            if reason:
                return self._say(t('gen_unavailable', reason=reason), notify=True)
            view = await self.services.jobs.submit(self.user, workflow.id, self._params(workflow))
        except SubmitError as error:
            return self._say(refusal(error), notify=True)
        finally:
            self.button.props(remove='loading')
        self._say('')
        self.jobs.add(view)
        ui.notify(t('gen_queued'), type='positive', position='top')


FIELD_LABELS = {
    'seed': 'gen_seed',
    'steps': 'gen_steps',
    'batch_size': 'gen_batch',
    'prompt': 'gen_prompt',
    'negative_prompt': 'gen_negative',
}


def refusal(error: SubmitError) -> str:
    """Say why a job was not queued in the browser's language (the service's English text where no case fits)."""
    if error.code == 'limit' and error.reason:
        return t(f'gen_limit_{error.reason}', **error.values)
    if error.code == 'limit':
        return t('gen_limit', reason=error.message)
    if error.code == 'invalid_params':
        key = f'gen_field_{error.reason}'
        if error.field in FIELD_LABELS and key in STRINGS:
            return t('gen_invalid', reason=t(key, field=t(FIELD_LABELS[error.field]), **error.values))
        return t('gen_invalid', reason=error.message)
    return t('gen_refused', reason=error.message)


# ---- links from the gallery: /?from=<image id> (its settings) and /?input=<image id> (as the input image) -----------
# NOTE: vcc_ui/pages/widgets/gallery_lightbox.py makes these links.


async def prefill(page: GeneratePage, path: str) -> None:
    """Fill the form from the query of a gallery link."""
    query = parse_qs(urlsplit(path).query)
    if image_id := (query.get('from') or [''])[0]:
        row = await page.services.images.get(page.user, image_id)
        workflow = page.services.registry.get(row.workflow_id or '') if row else None
        parent = next(
            (w for w in page.services.registry.parents() if workflow and workflow.id in (w.id, w.related_img2img)), None
        )
        if row is None or workflow is None or parent is None:
            page._say(t('gen_image_missing'), notify=True)
            return
        page.select(parent.id)
        if workflow.id != parent.id:
            page.tabs.set_value('img2img')
        page.prompt.set_value(row.prompt or '')
        page.negative.set_value(row.negative_prompt or '')
        if row.seed is not None:
            page.random_seed.set_value(False)
            page.seed.set_value(row.seed)
        if row.aspect_ratio in workflow.aspect_ratios:
            page.aspect.set_value(row.aspect_ratio)
    if image_id := (query.get('input') or [''])[0]:
        if page.parent and page.services.registry.img2img_for(page.parent.id) and page.mode != 'img2img':
            page.tabs.set_value('img2img')
        await page.use_image(image_id)
