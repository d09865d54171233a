"""What drafting needs from the running app: the team's template folder, page links, the optional model."""

from dataclasses import dataclass
from pathlib import Path

from bot.postmortems.links import PostmortemLinks
from bot.postmortems.wording import WordingPort


@dataclass(frozen=True)
class PostmortemSetup:
    template_dir: Path | None
    links: PostmortemLinks
    wording: WordingPort | None = None  # set when LLM_API_URL and LLM_MODEL are
    model_timeout: float = 60.0
