"""How a server's LoRAs are narrowed and told apart: search and filters, their choices, match states, server diff."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from vcc_ui.services.loras import LoraView

ALL = ''
MatchState = Literal['matched', 'unmatched', 'pending', 'unhashed']
MATCH_STATES: tuple[MatchState, ...] = ('matched', 'unmatched', 'pending', 'unhashed')


@dataclass(kw_only=True, slots=True)
class LoraFilter:
    """A search over names, Civitai names, trigger words and tags, plus base model, match state and tag filters.

    ALL (empty) admits any value; `match` is a MatchState.
    """

    search: str = ''
    base_model: str = ALL
    match: str = ALL
    tag: str = ALL

    def admits(self, view: LoraView) -> bool:
        """Whether a LoRA passes the search and every filter."""
        civ = view.civitai
        if self.match and match_state(view) != self.match:
            return False
        if self.base_model and not (civ and civ.base_model == self.base_model):
            return False
        if self.tag and not (civ and self.tag in civ.tags):
            return False
        if self.search:
            words = [view.name] + (
                [civ.model_name or '', civ.version_name or '', *civ.trained_words, *civ.tags] if civ else []
            )
            return self.search.lower() in ' '.join(words).lower()
        return True


def filter_choices(views: Iterable[LoraView]) -> tuple[list[str], list[str]]:
    """Return the base models and the tags the matched LoRAs have, each sorted."""
    versions = [v.civitai for v in views if v.civitai and v.civitai.found]
    bases = sorted({v.base_model for v in versions if v.base_model})
    tags = sorted({tag for v in versions for tag in v.tags})
    return bases, tags


def match_state(view: LoraView) -> MatchState:
    """Whether Civitai knows the LoRA, said it does not, was not asked yet (pending), or the LoRA has no hash."""
    if not view.sha256:
        return 'unhashed'
    if view.civitai is None:
        return 'pending'
    return 'matched' if view.civitai.found else 'unmatched'


def uneven(presence: dict[str, set[int]], server_ids: Iterable[int]) -> dict[str, set[int]]:
    """Return, sorted by name, the LoRAs that not every one of these servers has, with the servers that have them."""
    everywhere = set(server_ids)
    return {name: presence[name] for name in sorted(presence) if presence[name] != everywhere}
