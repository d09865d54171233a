"""What drafting needs from the running app: the team's template folder, page links, the optional model."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.postmortems.links import PostmortemLinks


@dataclass(frozen=True)
class PostmortemSetup:
    template_dir: Path | None
    links: PostmortemLinks
    wording: Any = None  # a bot.postmortems.wording.WordingPort when LLM_API_URL is set
    model_timeout: float = 60.0
