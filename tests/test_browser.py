"""End to end in headless Chromium: the chat, the widget on other sites, and no outside traffic.

One app server (the real engine and index, as `make index` built them) for the whole module,
one Chromium. The association's site is played by a second local server reached under other
host names: `*.asso.test` (allowed) and `*.pirate.test` (not allowed) both map to 127.0.0.1.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from chatbot.config import Settings  # noqa: E402
from chatbot.serve.feedback import FeedbackStore  # noqa: E402
from chatbot.text.normalize import fold_for_match  # noqa: E402
from tests.webserver import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    free_port,
    host_site,
    live_server,
    npm_package,
)

pytestmark = pytest.mark.browser

TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def site_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def chat(tmp_path_factory: pytest.TempPathFactory, site_port: int) -> Iterator[dict[str, Any]]:
    """The app on the real engine, reached as http://chat.asso.test:PORT; its feedback store."""
    from chatbot.engine import Engine
    from chatbot.serve.web import create_app

    if not os.path.exists(CHROMIUM):
        pytest.fail("Chromium is missing: `make browser` installs it (apt-get install chromium)")
    settings = Settings.from_env(
        allowed_origins=(f"http://site.asso.test:{site_port}",),
        allowed_hosts=("chat.asso.test",),
        feedback_db=tmp_path_factory.mktemp("feedback") / "feedback.sqlite3",
    )
    store = FeedbackStore(settings.feedback_db)
    engine = Engine.load(settings)
    app = create_app(settings, engine, store)
    port = free_port()
    with live_server(app, port), host_site(f"http://chat.asso.test:{port}", site_port):
        yield {
            "url": f"http://chat.asso.test:{port}",
            "store": store,
            "site_port": site_port,
            "engine": engine,
        }


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, chat: dict[str, Any]) -> Iterator[Any]:
    """A fresh phone-sized page in French that records every request it makes."""
    context = browser.new_context(
        locale="fr-FR", viewport={"width": 412, "height": 860}, is_mobile=True
    )
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    pg.requests = []  # type: ignore[attr-defined]
    pg.errors = []  # type: ignore[attr-defined]
    context.on("request", lambda r: pg.requests.append(r.url))  # type: ignore[attr-defined]
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))  # type: ignore[attr-defined]
    yield pg
    context.close()


def open_chat(page: Any, url: str) -> Any:
    page.goto(url)
    page.wait_for_selector("#sep-question textarea")
    return page


def send(scope: Any, question: str) -> Any:
    """Type and send a question; return its answer once complete (all of it shown)."""
    bots = scope.locator('[data-testid="bot"]')
    before = bots.count()
    box = scope.locator("#sep-question textarea")
    box.fill(question)
    box.press("Enter")
    answer = bots.nth(before)
    answer.locator(".sep-done").wait_for()
    return answer


def own_origin_only(requests: list[str], *origins: str) -> list[str]:
    return [
        u for u in requests if not u.startswith(origins) and not u.startswith(("data:", "blob:"))
    ]


def test_question_answered_with_citations_and_highlighted_source(
    page: Any, chat: dict[str, Any]
) -> None:
    open_chat(page, chat["url"])
    assert page.evaluate("document.documentElement.lang") == "fr"
    assert page.get_by_text("assistant automatique").first.is_visible()
    page.evaluate(
        """() => { window.__partial = new Set(); new MutationObserver(() => {
             const a = [...document.querySelectorAll('[data-testid="bot"] .sep-answer')].pop();
             if (a && !a.classList.contains('sep-done')) window.__partial.add(a.textContent.length);
           }).observe(document.body, {childList: true, subtree: true, characterData: true}); }"""
    )
    # A question the documents answer in their first quote (« quels sont les effets secondaires
    # de l'ocrelizumab ? » quoted ponesimod's first until 2026-12-02 and is refused since: README).
    answer = send(page, "qu'est-ce que l'ocrelizumab ?")
    assert page.evaluate("window.__partial.size") >= 3  # the answer appeared progressively
    text = answer.inner_text()
    assert "Voici ce que disent les documents" in text and "[1]" in text
    # The [1] link opens its source (title, author, publication, date) with the quote highlighted.
    link = answer.locator("a.sep-cite").first
    link.focus()
    page.keyboard.press("Enter")  # keyboard only
    source = answer.locator("details.sep-source").first
    assert source.get_attribute("open") is not None
    summary = source.locator("summary").inner_text()
    assert "[1]" in summary and "—" in summary  # title — author · publication · date
    mark = source.locator("mark").first
    assert mark.is_visible() and len(mark.inner_text()) > 20
    assert fold_for_match(mark.inner_text()) in fold_for_match(
        source.locator("blockquote").inner_text()
    )
    assert page.evaluate("document.activeElement.tagName") == "SUMMARY"
    assert own_origin_only(page.requests, chat["url"]) == []
    assert page.errors == []


def test_follow_up_is_answered_in_context(page: Any, chat: dict[str, Any]) -> None:
    question, follow_up = "C'est quoi l'ocrelizumab ?", "Et ses effets secondaires ?"
    engine = chat["engine"]
    said = engine.ask(question).text
    in_context = engine.ask(
        follow_up, [{"role": "user", "content": question}, {"role": "assistant", "content": said}]
    )
    alone = engine.ask(follow_up)
    assert in_context.text != alone.text  # the conversation changes the answer

    open_chat(page, chat["url"])
    send(page, question)
    answer = send(page, follow_up)
    # The chat sent the conversation: its answer is the one in context, quote for quote.
    shown = fold_for_match(answer.inner_text())
    first_quote = re.sub(r"\s*\[\d+\]$", "", in_context.text.split("\n\n")[1])
    assert fold_for_match(first_quote) in shown


def test_a_refusal_says_so_and_lists_the_nearest_documents_to_read_on(
    page: Any, chat: dict[str, Any]
) -> None:
    open_chat(page, chat["url"])
    # The documents speak of the spinal cord's MRI, never of its price.
    answer = send(page, "combien ca coute une irm de la moelle epiniere ?")
    text = answer.inner_text()
    assert "Je n'ai pas trouvé la réponse" in text and "les plus proches" in text
    assert answer.locator("a.sep-cite, mark").count() == 0  # nothing quoted as an answer
    sources = answer.locator("details.sep-source")
    assert 1 <= sources.count() <= chat["engine"].settings.nearby_documents
    first = sources.first
    first.locator("summary").click()
    assert first.locator("blockquote").is_visible()  # the document's closest passage
    assert page.errors == []


def test_emergency_gets_the_emergency_message_with_numbers_a_phone_can_call(
    page: Any, chat: dict[str, Any]
) -> None:
    open_chat(page, chat["url"])
    answer = send(page, "j'arrive plus a respirer depuis 10 minutes")
    assert answer.locator(".sep-safety").is_visible()  # set apart, not a quote
    assert answer.locator("blockquote, .sep-sources").count() == 0
    links = {a.get_attribute("href") for a in answer.locator("a.sep-tel").all()}
    assert {"tel:15", "tel:112", "sms:114"} <= links
    # tappable: a link of its own, big enough to hit with a finger
    box = answer.locator('a[href="tel:112"]').bounding_box()
    assert box is not None and box["height"] >= 16


def test_suicidal_message_gets_3114_as_a_link(page: Any, chat: dict[str, Any]) -> None:
    open_chat(page, chat["url"])
    answer = send(page, "jai envie den finir, je supporte plus rien")
    assert answer.locator('a.sep-tel[href="tel:3114"]').is_visible()


def test_thumbs_up_is_stored_with_the_answer_and_a_comment(page: Any, chat: dict[str, Any]) -> None:
    store: FeedbackStore = chat["store"]
    before = len(list(store.all()))
    open_chat(page, chat["url"])
    question = "la biotine a forte dose est elle efficace ?"
    send(page, question)
    page.locator('button[aria-label="J\'aime"], button[aria-label="Like"]').last.click()
    page.get_by_text("Merci pour votre avis").wait_for()
    votes = list(store.all())
    assert len(votes) == before + 1
    fb = votes[-1]
    assert (
        (fb.vote, fb.question) == ("up", question)
        and fb.chunk_ids
        and fb.index_version.startswith("v")
    )
    page.locator("#sep-comment textarea").fill("clair et utile")
    page.locator("#sep-comment-send").click()
    page.get_by_text("commentaire a été enregistré").wait_for()
    assert list(store.all())[-1].comment == "clair et utile"


def test_start_over_and_text_size(page: Any, chat: dict[str, Any]) -> None:
    open_chat(page, chat["url"])
    answer = send(page, "quel sport pratiquer avec une sep ?")
    size = float(
        answer.evaluate("e => parseFloat(getComputedStyle(e.querySelector('p')).fontSize)")
    )
    page.locator("#sep-larger").click()
    page.locator("#sep-larger").click()
    bigger = float(
        answer.evaluate("e => parseFloat(getComputedStyle(e.querySelector('p')).fontSize)")
    )
    assert bigger >= size * 1.25
    assert (
        page.locator("#sep-larger").get_attribute("aria-label")
        == "A+ : agrandir la taille du texte"
    )
    page.locator("#sep-restart").click()
    page.wait_for_function("document.querySelectorAll('[data-testid=\"bot\"]').length === 0")
    page.locator("#sep-smaller").click()
    page.locator("#sep-smaller").click()


def test_bad_input_in_the_chat_is_shown_as_text_and_never_run(
    page: Any, chat: dict[str, Any]
) -> None:
    open_chat(page, chat["url"])
    page.locator("#sep-send").click()  # empty
    page.locator(".sep-error").first.wait_for()
    assert "vide" in page.locator(".sep-error").first.inner_text()
    answer = send(page, "x" * 50_000)
    assert "trop long" in answer.inner_text()
    hostile = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"> <b>gras</b> ocrelizumab ?'
    send(page, hostile)
    shown = page.locator('[data-testid="user"]').last.inner_text()
    assert "<script>window.__pwned=1</script>" in shown and "<b>gras</b>" in shown
    assert page.evaluate("window.__pwned") is None
    assert page.locator('[data-testid="user"] img, [data-testid="user"] b').count() == 0


def test_widget_on_an_allowed_site_answers_a_question(page: Any, chat: dict[str, Any]) -> None:
    site = f"http://site.asso.test:{chat['site_port']}"
    page.goto(f"{site}/host.html")
    button = page.get_by_role("button", name=re.compile("Ouvrir l'assistant"))
    button.click()
    frame = page.frame_locator("iframe[title^='Assistant SEP']")
    frame.locator("#sep-question textarea").wait_for()
    answer = send(frame, "faut il une injection de gadolinium a chaque irm ?")
    assert "[1]" in answer.inner_text()
    frame.locator("#sep-send").click()  # empty, in the widget too
    frame.locator(".sep-error").first.wait_for()
    page.keyboard.press("Escape")  # from inside the chat's frame: closes the panel
    button.wait_for(state="visible", timeout=3000)
    assert own_origin_only(page.requests, chat["url"], site) == []
    assert not [
        u for u in page.requests if u.startswith(site) and not u.startswith(f"{site}/host.html")
    ]


def test_a_site_that_is_not_allowed_is_refused(page: Any, chat: dict[str, Any]) -> None:
    pirate = f"http://www.pirate.test:{chat['site_port']}"
    page.goto(f"{pirate}/host.html")
    page.wait_for_timeout(1500)
    assert page.locator("#sep-chatbot-widget").count() == 0  # the widget script was refused
    # Framing the chat page directly is refused by the browser (frame-ancestors).
    page.goto(f"{pirate}/frame.html")
    page.wait_for_timeout(1500)
    frame = page.frames[1]
    assert frame.locator("#sep-question").count() == 0
    # And the API refuses the site's browser calls.
    status = page.evaluate(
        """async (url) => { try { const r = await fetch(url + '/api/ask', {method: 'POST',
             headers: {'Content-Type': 'application/json'}, body: '{"question": "biotine"}'});
             return r.status; } catch (e) { return 'blocked'; } }""",
        chat["url"],
    )
    assert status == "blocked"


def test_a_script_inside_a_document_is_shown_inert_in_the_sources(
    browser: Any, tmp_path: Any
) -> None:
    from chatbot.records import Document
    from chatbot.serve.web import create_app
    from tests.helpers import DOCS, fake_engine

    hostile = Document(
        doc_id="hostile",
        source="hostile.md",
        title="Vaccins <script>window.__pwned=3</script>",
        text="La vaccination antigrippale est recommandée <script>window.__pwned=4</script> "
        '<img src=x onerror="window.__pwned=5"> chez les patients atteints de SEP.',
    )
    signs = Document(  # what KaTeX or Markdown would have rendered, altering the quote
        doc_id="signes",
        source="signes.md",
        title="Vitamine D",
        text="La vitamine D : $$10 000$$ unités, *selon* les __auteurs__ [ici](x).",
    )
    engine = fake_engine(docs=[*DOCS, hostile, signs])
    app = create_app(
        Settings(feedback_db=tmp_path / "fb.sqlite3"),
        engine,
        FeedbackStore(tmp_path / "fb.sqlite3"),
    )
    context = browser.new_context(locale="fr-FR")
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    with live_server(app) as url:
        open_chat(pg, url)
        answer = send(pg, "la vaccination antigrippale est recommandée chez les patients ?")
        answer.locator("a.sep-cite").first.click()
        source = answer.locator("details.sep-source").first
        assert "<script>window.__pwned=4</script>" in source.inner_text()
        assert "<script>window.__pwned=3</script>" in source.locator("summary").inner_text()
        assert pg.evaluate("window.__pwned") is None
        assert answer.locator("script, img").count() == 0
        # A quote and the patient's own message read exactly as written: no LaTeX, no Markdown.
        answer = send(pg, "la vitamine D $$E=mc^2$$ *combien* d'unités ?")
        assert "$$10 000$$ unités, *selon* les __auteurs__ [ici](x)." in answer.inner_text()
        question = pg.locator('[data-testid="user"]').last.inner_text()
        assert "$$E=mc^2$$ *combien*" in question
        assert pg.locator(".katex, [data-testid='bot'] em, [data-testid='bot'] strong").count() == 0
    context.close()


AXE_RUN = """async () => {
  const result = await axe.run(document, {runOnly: {type: 'tag',
    values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
  return result.violations.filter(v => ['serious', 'critical'].includes(v.impact))
    .map(v => `${v.impact} ${v.id}: ${v.nodes.map(n => n.target.join(' ')).join(', ')}`);
}"""


@pytest.mark.parametrize("path", ["/", "/embed/"])
def test_no_serious_accessibility_violation_before_or_after_an_answer(
    page: Any, chat: dict[str, Any], path: str
) -> None:
    """axe-core (npm, injected from build/node: nothing from a CDN), WCAG 2.1 A and AA rules."""
    axe = npm_package("axe-core@4.14.1") / "axe.min.js"
    open_chat(page, chat["url"] + path)
    page.add_script_tag(path=str(axe))
    assert page.evaluate(AXE_RUN) == []
    send(page, "la biotine a forte dose est elle efficace ?").locator("a.sep-cite").first.click()
    assert page.evaluate(AXE_RUN) == []
    assert own_origin_only(page.requests, chat["url"]) == []
