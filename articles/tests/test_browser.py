"""A real browser proves that script in an article body never runs."""

import pytest

from articles.tests.factories import ArticleFactory

MALICIOUS_BODY = """
## Looks harmless

<script>window.__pwned = true; document.title = "PWNED";</script>

<img src="/nope.png" onerror="window.__pwned = true; document.title = 'PWNED'">

<a id="js-link" href="javascript:window.__pwned=true">click me</a> and [another](javascript:document.title='PWNED')

<svg onload="window.__pwned = true"></svg>
"""


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_script_in_an_article_does_not_execute_in_the_browser(live_server, page):
    article = ArticleFactory(title="Harmless title", body=MALICIOUS_BODY)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{live_server.url}{article.get_absolute_url()}")
    page.wait_for_load_state("load")
    page.get_by_text("click me").click()
    page.wait_for_timeout(200)

    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.title().startswith("Harmless title")
    assert "PWNED" not in page.title()
    assert page.locator(".article-body script, .article-body img, .article-body svg").count() == 0
    assert page.get_by_role("heading", name="Looks harmless").is_visible()
    assert errors == []
