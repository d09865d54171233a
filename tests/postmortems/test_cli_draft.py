"""`warroom postmortem draft NUMBER` through `bot.cli.main`: stored versions, an unstored draft, and bad input."""

import asyncio
import re
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli import main
from bot.db import Database, upgrade_async
from bot.incidents import service
from bot.incidents.models import EventKind, TimelineEvent
from bot.postmortems import review
from bot.postmortems.tables import Postmortem


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated SQLite database that DATABASE_URL points at, and a playbooks folder without templates."""
    monkeypatch.chdir(tmp_path)
    database = f"sqlite:///{tmp_path / 'warroom.db'}"
    asyncio.run(upgrade_async(database))
    (tmp_path / "playbooks").mkdir()
    monkeypatch.setenv("DATABASE_URL", database)
    monkeypatch.setenv("PLAYBOOKS_DIR", str(tmp_path / "playbooks"))
    return database


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["postmortem", "draft", *argv])
    out, err = capsys.readouterr()
    return code, out, err


async def _incident(url: str, title: str = "Checkout error rate above 5%") -> tuple[int, int]:
    db = Database(url)
    try:
        async with db.transaction() as session:
            incident, _ = await service.open_incident(session, title=title, source="generic", service="checkout")
            assert incident.id is not None
            await service.record(
                session,
                incident.id,
                EventKind.NOTE,
                "action: <@U0BOB> add a retry budget by 2026-12-10",
                actor="U0ALICE",
            )
            await service.record(session, incident.id, EventKind.NOTE, "cause: the pool was too small", actor="U0BOB")
        return incident.number, incident.id
    finally:
        await db.dispose()


async def _draft(url: str, incident_id: int, *, save: str | None = None) -> list[str]:
    """Draft (and optionally save a second version); the stored Markdown of every version."""
    db = Database(url)
    try:
        async with db.transaction() as session:
            postmortem, _ = await review.ensure_draft(session, incident_id, template_dir=None, by="U0ALICE")
        if save is not None:
            async with db.transaction() as session:
                assert postmortem.id is not None
                await review.save(session, postmortem.id, {"summary": save}, by="U0BOB", based_on=1, template_dir=None)
        async with db.session() as session:
            return [v.markdown for v in await review.versions(session, postmortem.id or 0)]
    finally:
        await db.dispose()


async def _counts(url: str) -> tuple[int, int]:
    db = Database(url)
    try:
        async with db.session() as session:
            postmortems = (await session.execute(select(func.count()).select_from(Postmortem))).scalar_one()
            events = (await session.execute(select(func.count()).select_from(TimelineEvent))).scalar_one()
            return postmortems, events
    finally:
        await db.dispose()


def test_without_a_postmortem_it_prints_the_draft_drafting_would_store(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    number, incident_id = asyncio.run(_incident(url))
    before = asyncio.run(_counts(url))
    code, out, err = run(capsys, str(number))
    assert code == 0, err
    assert "has no postmortem yet" in err and "not stored" in err
    assert out.startswith("# Postmortem") and "Checkout error rate above 5%" in out
    assert "add a retry budget" in out and "2026-12-10" in out  # the action item, parsed from the note
    assert asyncio.run(_counts(url)) == before  # nothing written: no postmortem, no timeline entry
    assert run(capsys, str(number))[1] == out  # deterministic
    # the very text that drafting stores as version 1
    assert asyncio.run(_draft(url, incident_id)) == [out]


def test_with_a_postmortem_it_prints_the_current_or_a_chosen_version(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    number, incident_id = asyncio.run(_incident(url))
    first, second = asyncio.run(_draft(url, incident_id, save="Checkout failed for 12 minutes."))
    code, out, err = run(capsys, str(number))
    assert (code, out) == (0, second) and "version 2" in err
    assert "Checkout failed for 12 minutes." in out
    assert run(capsys, str(number), "--version", "1")[:2] == (0, first)
    code, out, err = run(capsys, str(number), "--version", "9")
    assert (code, out) == (
        2,
        "",
    ) and err == f"warroom: the postmortem of incident #{number} has no version 9 (it has 1, 2)\n"


def test_the_team_template_is_used_and_a_broken_one_falls_back(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    number, _ = asyncio.run(_incident(url, "Disk <full>"))
    templates = tmp_path / "playbooks" / "templates"
    templates.mkdir()
    (templates / "postmortem.md.j2").write_text("Team format for {{ incident.title }}\n")
    assert run(capsys, str(number))[1] == "Team format for Disk &lt;full&gt;\n"
    (templates / "postmortem.md.j2").write_text("{% if %}\n")
    code, out, err = run(capsys, str(number))
    assert code == 0 and out.startswith("# Postmortem") and "failed" in err and "built-in" in err


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["42"], "There is no incident #42."),
        (["abc"], "NUMBER must be a positive whole number, not 'abc'"),
        (["0"], "NUMBER must be a positive whole number, not '0'"),
        (["1.5"], "NUMBER must be a positive whole number, not '1.5'"),
        (["1", "--version", "x"], "--version must be a positive whole number, not 'x'"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    url: str, capsys: pytest.CaptureFixture[str], argv: list[str], reason: str
) -> None:
    assert run(capsys, *argv) == (2, "", f"warroom: {reason}\n")


def test_no_postmortem_means_no_version(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    number, _ = asyncio.run(_incident(url))
    code, out, err = run(capsys, str(number), "--version", "1")
    assert (code, out) == (2, "") and err == f"warroom: incident #{number} has no postmortem yet, so no version 1\n"


def test_a_database_without_the_schema_is_not_migrated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "typo.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{missing}")
    code, out, err = run(capsys, "1")
    assert (code, out) == (2, "") and err.startswith(f"warroom: there is no database at {missing}")
    assert not missing.exists()  # looking did not create it

    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{empty}")
    code, out, err = run(capsys, "1")
    assert code == 2 and err.count("\n") == 1
    assert "no Warroom tables" in err and "warroom db upgrade" in err
    with sqlite3.connect(empty) as check:
        assert check.execute("select count(*) from sqlite_master").fetchone() == (0,)  # still empty


def test_an_outdated_schema_is_reported(url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "warroom.db") as connection:
        connection.execute("update alembic_version set version_num = '0005'")
    code, out, err = run(capsys, "1")
    assert (code, out) == (2, "")
    assert re.fullmatch(
        r"warroom: the database schema is at revision 0005, this Warroom expects \d{4}; "
        r"run `warroom db upgrade` first \(this command never migrates\)\n",
        err,
    )
