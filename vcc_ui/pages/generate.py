"""The Generate page: pick a workflow and mode, write a prompt, add an input image, queue and follow jobs."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from nicegui import app, context, ui

from vcc_ui.i18n import language, t
from vcc_ui.pages.first_loads import load
from vcc_ui.pages.frame import DRAFT_KEY
from vcc_ui.pages.live import JobFeed, on
from vcc_ui.pages.widgets.input_image import InputImage
from vcc_ui.pages.widgets.job_settings import JobSettings
from vcc_ui.pages.widgets.jobs_panel import JobsPanel
from vcc_ui.pages.widgets.lightbox import Lightbox
from vcc_ui.pages.widgets.lora_picker import LoraPicker
from vcc_ui.pages.widgets.params_form import ParamsForm
from vcc_ui.pages.widgets.prompt_fields import PromptFields
from vcc_ui.pages.widgets.submit_bar import SubmitBar, unavailable_text
from vcc_ui.pages.widgets.workflow_picker import ModeTabs, WorkflowCards
from vcc_ui.services import Services
from vcc_ui.services.image_meta import ImageView
from vcc_ui.services.job_form import JobForm, form_catalogue, recorded_params
from vcc_ui.services.workflows import Workflow

LAST_KEY = 'generate_last'  # app.storage.user: the workflow and mode last shown
MISSING_KEYS = {'prompt': 'gen_need_prompt', 'seed': 'gen_need_seed', 'input_image': 'gen_need_input'}


def page(services: Services, feed: JobFeed) -> None:
    """Build the Generate page for the browser's anonymous user."""
    request = context.client.request
    draft = app.storage.user.pop(DRAFT_KEY, None)
    linked = bool(urlsplit(context.client.sub_pages_router.current_path).query)
    start = draft or ({} if linked else app.storage.user.get(LAST_KEY) or {})  # the workflow and mode last used
    generate = GeneratePage(
        services, request.state.user, feed, is_admin=services.admin.is_admin(request.cookies), start=start
    )
    app.storage.client[DRAFT_KEY] = generate.draft  # the language switch keeps what was typed
    if draft:
        generate.restore(draft)
    elif linked:
        load(
            prefill(generate, context.client.sub_pages_router.current_path),
            name='generate-prefill',
            context=generate.input.strip.root,
        )


class GeneratePage:
    """The form on the left (top on a phone), the user's jobs on the right (below)."""

    def __init__(
        self, services: Services, user: str, feed: JobFeed, *, is_admin: bool = False, start: dict | None = None
    ) -> None:
        """Build the form showing `start`'s workflow and mode (when it still has them), else the first runnable."""
        self.services = services
        self.registry = services.registry
        self.user = user
        self.lang = lang = language()
        parents = self.registry.parents()
        runnable = [p for p in parents if not unavailable_text(services, p.id, when_down=False)]
        self.parent: Workflow | None = next(iter(runnable or parents), None)
        self.mode = self.parent.mode if self.parent else 'txt2img'
        self._start_on(start or {})
        registry = self.registry  # the lightbox's title lookup holds the registry, not this page (weak.py)
        self.lightbox = Lightbox(lang=lang, workflow_title=lambda w: registry.title(w, lang))
        with ui.element('div').classes(
            'w-full max-w-7xl mx-auto grid grid-cols-1 lg:grid-cols-12 gap-4 items-start p-2 sm:p-4'
        ):
            with ui.column().classes('lg:col-span-7 gap-3 min-w-0 w-full').mark('generate-form'):
                with ui.column().classes('w-full gap-0') as self.cards_box:
                    self.cards = WorkflowCards(self.registry, parents, lang=lang, on_select=self.select)
                self.modes = ModeTabs(on_change=self.switch_mode)
                self.prompts = PromptFields(lang=lang, on_submit=self.generate, helper=services.llm, user=user)
                self.lora = LoraPicker(services, prompt=self.prompts.prompt)
                self.input = InputImage(services, user, lang=lang, on_recent=self._remember)
                self.settings = JobSettings()
                self.params = ParamsForm(lang=lang)
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
        on(services.pool.shown_changed, lambda _: self._servers_changed(), owner=self.submit.message)
        on(self.registry.changed, self._workflows_changed, owner=self.submit.message)

    def _start_on(self, start: dict) -> None:
        """Take a saved workflow and mode before the form is built, so it is filled once (not for another first)."""
        chosen = self.registry.get(start.get('workflow') or '')
        if chosen is None or all(p.id != chosen.id for p in self.registry.parents()):
            return
        self.parent, self.mode = chosen, chosen.mode
        if start.get('mode') in self.registry.modes_of(chosen.id):
            self.mode = start['mode']

    @property
    def workflow(self) -> Workflow | None:
        """The workflow a job would run now: the card's, or the one it links for the chosen mode."""
        return self.registry.for_mode(self.parent, self.mode) if self.parent else None

    def select(self, workflow_id: str) -> None:
        """Select a workflow card; the mode falls back to the card's own."""
        workflow = self.registry.get(workflow_id)
        if workflow is None:
            return
        self.parent, self.mode = workflow, workflow.mode
        self._apply_workflow()

    def switch_mode(self, mode: str) -> None:
        """Switch to one of the card's modes, loading that workflow's defaults, templates and parameters."""
        if self.parent is None or mode == self.mode:
            return
        self.mode = mode if mode in self.registry.modes_of(self.parent.id) else self.parent.mode
        self._apply_workflow()

    def _workflows_changed(self) -> None:
        """Show the workflows as the folder has them now (a studio save, an edited file): every open tab follows."""
        before = self.workflow
        parents = self.registry.parents()
        self.cards_box.clear()
        with self.cards_box:
            self.cards = WorkflowCards(self.registry, parents, lang=self.lang, on_select=self.select)
        kept = next((p for p in parents if self.parent and p.id == self.parent.id), None)
        self.parent = kept or next(iter(parents), None)
        if self.mode == 'img2img' and not (self.parent and self.registry.img2img_for(self.parent.id)):
            self.mode = 'txt2img'
            self.modes.set('txt2img')
        if self.workflow != before:  # the form is reset only when what it runs changed
            self._apply_workflow()
        elif self.parent is not None:
            self.cards.highlight(self.parent.id)
            self._mark_unavailable()

    def _apply_workflow(self) -> None:
        workflow = self.workflow
        if self.parent is None or workflow is None:
            return
        self.cards.highlight(self.parent.id)
        self.modes.show(self.registry.modes_of(self.parent.id), self.mode, lang=self.lang)
        self.prompts.show_for(workflow, self.mode)
        self.submit.show_hint(workflow.shows_prompt)
        if app.storage.user.get(LAST_KEY) != (last := {'workflow': self.parent.id, 'mode': self.mode}):
            app.storage.user[LAST_KEY] = last  # written only when it changed: each write saves the user's storage
        self.settings.show_for(workflow)
        self.params.show_for(workflow, form_catalogue(self.services.pool, workflow.id))
        self.input.show(workflow.needs_input_image)
        self.lora.show_for(workflow)
        self._mark_unavailable()

    def _mark_unavailable(self) -> None:
        """Mark the cards that cannot run now and say why the chosen workflow cannot (or nothing)."""
        self._mark_cards()
        self.submit.say(unavailable_text(self.services, self.workflow.id, when_down=False) if self.workflow else '')

    def _servers_changed(self) -> None:
        """Mark the cards anew; the parameters follow the catalogue of the server the form now follows."""
        self._mark_cards()
        if self.workflow:
            self.params.refresh(self.workflow, form_catalogue(self.services.pool, self.workflow.id))

    def _mark_cards(self) -> None:
        self.cards.mark({w: unavailable_text(self.services, w, when_down=False) for w in self.cards.cards})

    def draft(self) -> dict:
        """The form as it stands (what a reload in another language should keep)."""
        workflow_id, fields = (self.parent.id if self.parent else None), self.settings.draft()
        return {
            'workflow': workflow_id,
            'mode': self.mode,
            **self.prompts.draft(),
            **fields,
            'params': self.params.values(),
        }

    def restore(self, draft: dict) -> None:
        """Put a draft back into the form built on its workflow and mode; parts that no longer fit keep its defaults."""
        self.prompts.restore(draft)
        self.settings.restore(draft)
        self.params.restore(draft.get('params') or {})

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
            declared=self.params.values(),
            **self.lora.params(),
        )

    def _remember(self, images: list[ImageView]) -> None:
        self.jobs.remember(images)  # result cards built later need no lookup of these

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
        if page.parent and not (page.workflow and page.workflow.needs_input_image):
            modes = registry.modes_of(page.parent.id).items()
            page.modes.set(next((mode for mode, w in modes if w.needs_input_image), page.mode))
        await page.input.use(image_id)


async def apply_params(page: GeneratePage, parent: Workflow, workflow: Workflow, params: dict) -> None:
    """Put every recorded param of a job back into the form: workflow, mode, prompts, settings, LoRA, input image."""
    page.select(parent.id)
    if workflow.id != parent.id:
        page.modes.set(workflow.mode)
    page.prompts.set(params.get('prompt') or '', params.get('negative_prompt') or '')
    page.settings.apply(params)
    page.params.restore(params)
    if params.get('lora') and workflow.accepts('lora'):
        await page.lora.load()
        page.lora.select.set_value(params['lora'] if params['lora'] in page.lora.select.options else '')
        if isinstance(params.get('lora_strength'), int | float):
            page.lora.strength.set_value(params['lora_strength'])
    if params.get('input_image') and workflow.needs_input_image:
        await page.input.use(params['input_image'])
