"""The Generate page: pick a workflow and mode, write a prompt, add an input image, queue and follow jobs."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from nicegui import app, background_tasks, context, ui

from vcc_ui.i18n import language, t
from vcc_ui.pages.frame import DRAFT_KEY
from vcc_ui.pages.live import JobFeed, on
from vcc_ui.pages.widgets.input_image import InputImage
from vcc_ui.pages.widgets.job_settings import JobSettings
from vcc_ui.pages.widgets.jobs_panel import JobsPanel
from vcc_ui.pages.widgets.lightbox import Lightbox
from vcc_ui.pages.widgets.lora_picker import LoraPicker
from vcc_ui.pages.widgets.prompt_fields import PromptFields
from vcc_ui.pages.widgets.submit_bar import SubmitBar, unavailable_text
from vcc_ui.pages.widgets.workflow_picker import ModeTabs, WorkflowCards
from vcc_ui.services import Services
from vcc_ui.services.job_form import JobForm, recorded_params
from vcc_ui.services.workflows import Workflow

LAST_KEY = 'generate_last'  # app.storage.user: the workflow and mode last shown
MISSING_KEYS = {'prompt': 'gen_need_prompt', 'seed': 'gen_need_seed', 'input_image': 'gen_need_input'}


def page(services: Services, feed: JobFeed) -> None:
    """Build the Generate page for the browser's anonymous user."""
    request = context.client.request
    last = app.storage.user.get(LAST_KEY) or {}
    generate = GeneratePage(services, request.state.user, feed, is_admin=services.admin.is_admin(request.cookies))
    app.storage.client[DRAFT_KEY] = generate.draft  # the language switch keeps what was typed
    if draft := app.storage.user.pop(DRAFT_KEY, None):
        generate.restore(draft)
    elif not urlsplit(context.client.sub_pages_router.current_path).query:
        generate.choose(last)  # the workflow and mode last used, with the draft typed there
    else:
        background_tasks.create(
            prefill(generate, context.client.sub_pages_router.current_path),
            name='generate-prefill',
            context=generate.input.strip.root,
        )


class GeneratePage:
    """The form on the left (top on a phone), the user's jobs on the right (below)."""

    def __init__(self, services: Services, user: str, feed: JobFeed, *, is_admin: bool = False) -> None:
        self.services = services
        self.registry = services.registry
        self.user = user
        lang = language()
        parents = self.registry.parents()
        runnable = [p for p in parents if not unavailable_text(services, p.id, when_down=False)]
        self.parent: Workflow | None = next(iter(runnable or parents), None)
        self.mode = 'txt2img'
        self.lightbox = Lightbox(lang=lang, workflow_title=lambda w: self.registry.title(w, lang))
        with ui.element('div').classes(
            'w-full max-w-7xl mx-auto grid grid-cols-1 lg:grid-cols-12 gap-4 items-start p-2 sm:p-4'
        ):
            with ui.column().classes('lg:col-span-7 gap-3 min-w-0 w-full').mark('generate-form'):
                self.cards = WorkflowCards(self.registry, parents, lang=lang, on_select=self.select)
                self.modes = ModeTabs(on_change=self.switch_mode)
                self.prompts = PromptFields(lang=lang, on_submit=self.generate, helper=services.llm, user=user)
                self.lora = LoraPicker(services, prompt=self.prompts.prompt)
                self.input = InputImage(services, user, lang=lang)
                self.settings = JobSettings()
                self.submit = SubmitBar(services, user, on_click=self.generate)
            with ui.column().classes('lg:col-span-5 gap-2 min-w-0 w-full lg:sticky lg:top-20'):
                ui.label(t('jobs_title')).classes('text-lg font-medium')
                self.jobs = JobsPanel(
                    services,
                    user,
                    feed,
                    lang=lang,
                    on_open=self.lightbox.open,
                    on_images=self.input.add_recent,
                    is_admin=is_admin,
                )
        self._apply_workflow()
        on(services.pool.changed, lambda _: self._mark_cards(), owner=self.submit.message)
        background_tasks.create(self._load_recent(), name='generate-recent', context=self.input.strip.root)

    @property
    def workflow(self) -> Workflow | None:
        """The workflow a job would run now: the card's, or its linked edit workflow in Img2Img mode."""
        return self.registry.for_mode(self.parent, self.mode) if self.parent else None

    def select(self, workflow_id: str) -> None:
        """Select a workflow card; the mode falls back to Txt2Img."""
        workflow = self.registry.get(workflow_id)
        if workflow is None:
            return
        self.parent, self.mode = workflow, 'txt2img'
        self.modes.set('txt2img')
        self._apply_workflow()

    def switch_mode(self, mode: str) -> None:
        """Switch between Txt2Img and Img2Img, loading that workflow's defaults and templates."""
        if mode == self.mode:
            return
        linked = self.parent and self.registry.img2img_for(self.parent.id)
        self.mode = 'img2img' if mode == 'img2img' and linked else 'txt2img'
        self._apply_workflow()

    def _apply_workflow(self) -> None:
        workflow = self.workflow
        if self.parent is None or workflow is None:
            return
        self.cards.highlight(self.parent.id)
        self.modes.offer_img2img(self.registry.img2img_for(self.parent.id) is not None)
        self.prompts.show_for(workflow, self.mode)
        app.storage.user[LAST_KEY] = {'workflow': self.parent.id, 'mode': self.mode}
        self.settings.show_for(workflow)
        self.input.section.set_visibility(workflow.needs_input_image)
        self.lora.show_for(workflow)
        self._mark_unavailable()

    def _mark_unavailable(self) -> None:
        """Mark the cards that cannot run now and say why the chosen workflow cannot (or nothing)."""
        self._mark_cards()
        self.submit.say(unavailable_text(self.services, self.workflow.id, when_down=False) if self.workflow else '')

    def _mark_cards(self) -> None:
        self.cards.mark({w: unavailable_text(self.services, w, when_down=False) for w in self.cards.cards})

    def draft(self) -> dict:
        """The form as it stands (what a reload in another language should keep)."""
        workflow_id = self.parent.id if self.parent else None
        return {'workflow': workflow_id, 'mode': self.mode, **self.prompts.draft(), **self.settings.draft()}

    def choose(self, last: dict) -> None:
        """Show a workflow and mode (the draft typed there comes with them)."""
        if last.get('workflow') in self.cards.cards:
            self.select(last['workflow'])
        if last.get('mode') == 'img2img':
            self.modes.set('img2img')

    def restore(self, draft: dict) -> None:
        """Put a draft back into the form; parts that no longer fit the workflow keep its defaults."""
        self.choose(draft)
        self.prompts.restore(draft)
        self.settings.restore(draft)

    def form(self) -> JobForm:
        """The values of the form now."""
        return JobForm(
            prompt=self.prompts.prompt.value or '',
            negative_prompt=self.prompts.negative.value or '',
            random_seed=bool(self.settings.random_seed.value),
            seed=self.settings.seed.value,
            aspect_ratio=self.settings.aspect.value,
            batch_size=self.settings.batch.value,
            steps=self.settings.steps.value,
            input_image=self.input.image_id,
            **self.lora.params(),
        )

    async def _load_recent(self) -> None:
        self.jobs.remember(await self.input.load_recent())

    async def generate(self) -> None:
        """Queue a job of the chosen workflow; what is missing or refused is said, nothing fails silently."""
        workflow = self.workflow
        if workflow is None or self.submit.busy:
            return
        form = self.form()
        if missing := form.missing(workflow):
            if missing == 'input_image':
                self.input.slot.show_error(t(MISSING_KEYS[missing]))
            return self.submit.say(t(MISSING_KEYS[missing]), notify=True)
        if view := await self.submit.queue(workflow.id, form.params(workflow) | self.prompts.helped()):
            self.prompts.remember(form.prompt)
            self.jobs.add(view)


# ---- links from the gallery: /?from=<image id> (its settings) and /?input=<image id> (as the input image) -----------
# NOTE: vcc_ui/pages/widgets/image_actions.py makes these links.


async def prefill(page: GeneratePage, path: str) -> None:
    """Fill the form from the query of a gallery link."""
    query = parse_qs(urlsplit(path).query)
    registry = page.registry
    if image_id := (query.get('from') or [''])[0]:
        row = await page.services.images.get(page.user, image_id)
        workflow = registry.get(row.workflow_id or '') if row else None
        parent = registry.parent_of(workflow.id) if workflow else None
        if row is None or workflow is None or parent is None:
            page.submit.say(t('gen_image_missing'), notify=True)
            return
        await apply_params(page, parent, workflow, recorded_params(row))
    if image_id := (query.get('input') or [''])[0]:
        if page.parent and registry.img2img_for(page.parent.id) and page.mode != 'img2img':
            page.modes.set('img2img')
        await page.input.use(image_id)


async def apply_params(page: GeneratePage, parent: Workflow, workflow: Workflow, params: dict) -> None:
    """Put every recorded param of a job back into the form: workflow, mode, prompts, settings, LoRA, input image."""
    page.select(parent.id)
    if workflow.id != parent.id:
        page.modes.set('img2img')
    page.prompts.set(params.get('prompt') or '', params.get('negative_prompt') or '')
    page.settings.apply(params)
    if params.get('lora') and workflow.accepts('lora'):
        await page.lora.load()
        page.lora.select.set_value(params['lora'] if params['lora'] in page.lora.select.options else '')
        if isinstance(params.get('lora_strength'), int | float):
            page.lora.strength.set_value(params['lora_strength'])
    if params.get('input_image') and workflow.needs_input_image:
        await page.input.use(params['input_image'])
