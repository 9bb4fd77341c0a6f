"""One module-level APIRouter per resource; `vcc_ui.web.app.install` includes them all."""
