"""The postmortem's Markdown download and its read-only page behind a signed link, over HTTP."""

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import httpx
from sqlalchemy import update
from sqlmodel import col

from bot.incidents.service import open_incident
from bot.postmortems import review
from bot.postmortems.links import PostmortemLinks
from bot.postmortems.tables import Postmortem, PostmortemVersion
from tests.support.live import API_TOKEN, SIGNING_SECRET, Stack, live_stack

AUTH = {"authorization": f"Bearer {API_TOKEN}"}
HOSTILE = "<script>alert(1)</script>"
# Raw HTML, a carriage return and a leading newline: what a team template could put into a draft.
TRICKY = "\n</pre><script>alert(2)</script><b>bold</b>\r\nline & more\rend\n"


class PreText(HTMLParser):
    """What a browser shows inside <pre>: line breaks normalised first, the newline after <pre> dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.inside = False
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.inside = self.inside or tag == "pre"

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre":
            self.inside = False

    def handle_data(self, data: str) -> None:
        if self.inside:
            self.parts.append(data)

    @classmethod
    def of(cls, html: str) -> str:
        parser = cls()
        # HTML turns every CR LF and lone CR of the source into LF before anything else
        parser.feed(html.replace("\r\n", "\n").replace("\r", "\n"))
        parser.close()
        text = "".join(parser.parts)
        return text[1:] if text.startswith("\n") else text


async def _postmortem(stack: Stack, title: str) -> tuple[int, int]:
    """A new incident with a drafted postmortem: (incident number, postmortem id)."""
    db = stack.app.state.db
    async with db.transaction() as session:
        incident, _ = await open_incident(session, title=title, source="generic", service="checkout")
    assert incident.id is not None
    async with db.transaction() as session:
        postmortem, drafted = await review.ensure_draft(session, incident.id, template_dir=None, by="U0ALICE")
    assert drafted and postmortem.id is not None
    return incident.number, postmortem.id


async def _markdown(stack: Stack, postmortem_id: int, number: int) -> str:
    async with stack.app.state.db.session() as session:
        versions = await review.versions(session, postmortem_id)
    return next(v.markdown for v in versions if v.number == number)


def _page(stack: Stack, number: int) -> str:
    """The signed page link as the bot would post it, as a path on the running server."""
    url = urlsplit(PostmortemLinks(stack.settings.base_url, SIGNING_SECRET).url(number))
    return f"{url.path}?{url.query}"


def _security_headers(response: httpx.Response) -> None:
    assert response.headers["content-security-policy"] == "default-src 'none'; style-src 'self' 'unsafe-inline'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_markdown_download_needs_the_token_and_serves_each_version(sqlite_url: str) -> None:
    async with live_stack(sqlite_url) as stack:
        number, postmortem_id = await _postmortem(stack, "Checkout error rate above 5%")
        path = f"/api/incidents/{number}/postmortem.md"
        assert (await stack.http.get(path)).status_code == 401
        assert (await stack.http.get(path, headers={"authorization": "Bearer nope"})).status_code == 401

        first = await stack.http.get(path, headers=AUTH)
        assert first.status_code == 200
        assert first.headers["content-type"] == "text/markdown; charset=utf-8"
        assert first.headers["content-disposition"] == f'attachment; filename="postmortem-incident-{number}-v1.md"'
        assert first.text == await _markdown(stack, postmortem_id, 1)
        assert "Checkout error rate above 5%" in first.text

        async with stack.app.state.db.transaction() as session:
            await review.save(
                session, postmortem_id, {"summary": "Checkout failed for 12 minutes."}, by="U0BOB", based_on=1,
                template_dir=None,
            )  # fmt: skip
        current = await stack.http.get(path, headers=AUTH)
        assert 'filename="postmortem-incident-' + str(number) + '-v2.md"' in current.headers["content-disposition"]
        assert "Checkout failed for 12 minutes." in current.text
        older = await stack.http.get(f"{path}?version=1", headers=AUTH)
        assert older.text == first.text and "-v1.md" in older.headers["content-disposition"]

        for missing, says in [
            ("/api/incidents/99/postmortem.md", "#99"),
            (f"{path}?version=7", "no version 7"),
            (f"{path}?version=two", "not a version number"),
        ]:
            answer = await stack.http.get(missing, headers=AUTH)
            assert answer.status_code == 404 and says in answer.json()["detail"], missing
        db = stack.app.state.db
        async with db.transaction() as session:
            bare, _ = await open_incident(session, title="No postmortem here", source="generic")
        none = await stack.http.get(f"/api/incidents/{bare.number}/postmortem.md", headers=AUTH)
        assert none.status_code == 404 and "no postmortem yet" in none.json()["detail"]
        # the download is part of the token-protected API, also in its OpenAPI description
        spec = (await stack.http.get("/openapi.json")).json()
        assert "/api/incidents/{number}/postmortem.md" in spec["paths"]
        assert not [p for p in spec["paths"] if p.startswith("/postmortems")]


async def test_the_page_opens_only_with_its_key(sqlite_url: str) -> None:
    async with live_stack(sqlite_url) as stack:
        number, postmortem_id = await _postmortem(stack, "Queue backlog")
        other, _ = await _postmortem(stack, "Disk full")
        page = _page(stack, number)
        good = await stack.http.get(page)
        assert good.status_code == 200 and good.headers["content-type"] == "text/html; charset=utf-8"
        _security_headers(good)
        assert '<html lang="en">' in good.text and "read-only" in good.text and "Slack" in good.text
        assert "Draft" in good.text and f"incident #{number}" in good.text

        key = page.partition("key=")[2]
        base = f"/postmortems/{number}"
        refused = [
            base,  # no key
            f"{base}?key=",
            f"{base}?key={'0' * 32}",
            f"{base}?key={key[:-1]}",
            f"{base}?key=%C3%A9{key[2:]}",  # not ASCII: must not reach the comparison and crash it
            f"/postmortems/{other}?key={key}",  # a key is good for its own incident only
            f"/postmortems/999?key={key}",
            f"/postmortems/{number}x?key={key}",
        ]
        bodies = set()
        for path in refused:
            answer = await stack.http.get(path)
            assert answer.status_code == 404, path
            _security_headers(answer)
            bodies.add(answer.text)
        # a wrong key for an existing incident looks exactly like a number that does not exist
        assert len(bodies) == 1

        download = await stack.http.get(f"{base}.md?key={key}")
        assert download.status_code == 200 and download.text == await _markdown(stack, postmortem_id, 1)
        assert download.headers["content-disposition"] == f'attachment; filename="postmortem-incident-{number}-v1.md"'
        _security_headers(download)
        assert (await stack.http.get(f"{base}.md")).status_code == 404
        assert (await stack.http.get(f"{base}.md?key={'0' * 32}")).status_code == 404
        assert (await stack.http.get(f"{base}.md?key={key}&version=5")).status_code == 404
        # the page's own download link leads to that same file
        link = re.search(r'href="([^"]+\.md\?[^"]+)"', good.text)
        assert link is not None
        linked = await stack.http.get(httpx.URL(page).join(link.group(1).replace("&amp;", "&")))
        assert linked.status_code == 200 and linked.text == download.text


async def test_hostile_text_is_escaped_and_the_page_shows_exactly_the_download(sqlite_url: str) -> None:
    async with live_stack(sqlite_url) as stack:
        number, postmortem_id = await _postmortem(stack, HOSTILE)
        page = _page(stack, number)
        first = await stack.http.get(page)
        assert HOSTILE not in first.text and "<script" not in first.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in first.text
        download_v1 = (await stack.http.get(f"/api/incidents/{number}/postmortem.md", headers=AUTH)).text
        assert PreText.of(first.text) == download_v1

        # A team template can produce raw HTML and odd line endings; the page must still show it as text.
        async with stack.app.state.db.transaction() as session:
            session.add(
                PostmortemVersion(
                    postmortem_id=postmortem_id, number=2, author="U0BOB", reason="edited", markdown=TRICKY,
                    note="kept <i>as is</i>",
                )
            )  # fmt: skip
            await session.execute(
                update(Postmortem).where(col(Postmortem.id) == postmortem_id).values(current_version=2)
            )
        second = await stack.http.get(page)
        assert "<script" not in second.text and "<b>bold" not in second.text and "<i>as is" not in second.text
        download = await stack.http.get(f"/api/incidents/{number}/postmortem.md", headers=AUTH)
        assert download.text == TRICKY
        assert PreText.of(second.text) == TRICKY

        # the versions list: newest first, who and why, each one viewable
        rows = re.findall(
            r"<tr(?: aria-current=\"page\")?>\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>", second.text
        )
        assert [(re.sub(r"<[^>]+>", "", n).split()[0], a, r) for n, a, r in rows] == [
            ("2", "U0BOB", "edited"),
            ("1", "Warroom", "drafted"),  # Warroom's own draft has no author
        ]
        assert "kept &lt;i&gt;as is&lt;/i&gt;" in second.text
        older = await stack.http.get(f"{page}&version=1")
        assert older.status_code == 200 and PreText.of(older.text) == download_v1
        assert "an older version" in older.text


async def test_the_page_shows_the_review_state(sqlite_url: str) -> None:
    async with live_stack(sqlite_url) as stack:
        number, postmortem_id = await _postmortem(stack, "Payments slow")
        async with stack.app.state.db.transaction() as session:
            await review.request_changes(session, postmortem_id, by="U0DAVE", reason="Impact is missing")
        asked = (await stack.http.get(_page(stack, number))).text
        assert "Changes requested" in asked and "U0DAVE" in asked
        async with stack.app.state.db.transaction() as session:
            await review.approve(session, postmortem_id, by="U0CAROL")
        approved = (await stack.http.get(_page(stack, number))).text
        assert "Approved by" in approved and "U0CAROL" in approved and "U0DAVE" not in approved
        assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00">', approved)


async def test_the_download_is_off_with_the_json_api(sqlite_url: str) -> None:
    async with live_stack(sqlite_url, api_token=None) as stack:
        number, _ = await _postmortem(stack, "Queue backlog")
        off = await stack.http.get(f"/api/incidents/{number}/postmortem.md", headers=AUTH)
        assert off.status_code == 403 and "API_TOKEN" in off.json()["detail"]
        # the signed page does not depend on the API token
        assert (await stack.http.get(_page(stack, number))).status_code == 200
