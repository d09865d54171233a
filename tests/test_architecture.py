"""The layering rules that keep the domain Slack-free (STYLE.md 3) and the package importable cleanly."""

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import bot

DOMAIN_PACKAGES = ["incidents", "alerts", "playbooks", "oncall", "postmortems"]
FORBIDDEN = ("slack_bolt", "slack_sdk", "httpx", "apscheduler", "fastapi", "starlette")
ROOT = Path(bot.__file__).parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", [p for p in DOMAIN_PACKAGES if (ROOT / p).is_dir()])
def test_domain_packages_import_no_adapter_library(package: str) -> None:
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / package).rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0] in FORBIDDEN or name.startswith(("bot.slack", "bot.web", "bot.sandbox"))
    }
    assert not offenders


def test_block_kit_is_built_only_under_bot_slack() -> None:
    outside = [
        str(path.relative_to(ROOT))
        for path in ROOT.rglob("*.py")
        if "slack" not in path.relative_to(ROOT).parts[:1]
        and "sandbox" not in path.relative_to(ROOT).parts[:1]
        and '"type": "actions"' in path.read_text()
    ]
    assert outside == []


def test_every_module_imports_without_side_effects_and_has_a_docstring() -> None:
    missing = []
    for module in pkgutil.walk_packages(bot.__path__, "bot."):
        if module.name.startswith("bot.migrations") or module.name == "bot.__main__":
            continue
        imported = importlib.import_module(module.name)
        if not (imported.__doc__ or "").strip():
            missing.append(module.name)
    assert missing == []
