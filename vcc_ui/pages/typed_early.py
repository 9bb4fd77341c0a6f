"""Text typed into an input before the page's socket connects is kept, not replaced by the value built in.

Setting an input's value on the server makes NiceGUI call the input's `updateValue` in the browser
(`Input._handle_value_change`), which sets its text to the value prop it was sent. A page sets its inputs' values
while it builds (the Generate page's prompts: the stored draft or the workflow's default); the browser has no socket
yet, so those calls wait and run when it connects. By then the user may have typed: the typed text reached the
server first, then the waiting `updateValue` put the built value back on the screen and sent it to the server as the
new value. A value set before the browser first connected needs no such call: the value built in is in the page's
HTML, and one changed after the answer goes out as an element update, which the input applies itself (its `value`
watcher). So the call is made only once the page's client has connected.
"""

from __future__ import annotations

from typing import Any

from nicegui.elements.input import Input


def install() -> None:
    """Make inputs ask the browser to show a new value only once it is connected (once per process)."""
    if Input._handle_value_change is not _handle_value_change:
        Input._handle_value_change = _handle_value_change  # type: ignore[method-assign]


def _handle_value_change(self: Input, value: Any) -> None:
    """Input._handle_value_change, without the `updateValue` call a browser that never connected would run late."""
    super(Input, self)._handle_value_change(value)  # validation and the value prop, as NiceGUI's Input does
    if self._send_update_on_value_change and self.client.has_socket_connection:
        self.run_method('updateValue')
