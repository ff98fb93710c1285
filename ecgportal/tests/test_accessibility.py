"""axe-core (served from the repository, not a CDN) on every main page, desktop and phone:
no serious or critical accessibility violation."""

from pathlib import Path

import pytest
from django.urls import reverse

from predictions.tests.factories import DonePredictionFactory, ECGRecordFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).with_name("vendor") / "axe.min.js"
VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


def _violations(page):
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => { const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
          .map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})); }"""
    )
    return found


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_pages_have_no_serious_accessibility_violations(viewport, browser, live_server, client, artifacts_dir):
    from accounts.tests.factories import UserFactory

    patient = UserFactory(first_name="Pat", last_name="Ient")
    record = DonePredictionFactory(record=ECGRecordFactory(owner=patient)).record
    context = browser.new_context(viewport=VIEWPORTS[viewport], bypass_csp=True)  # axe is injected inline
    page = context.new_page()
    try:
        anonymous = [reverse("home"), reverse("account_login"), reverse("account_signup"), reverse("about")]
        report = {}
        for url in anonymous:
            page.goto(live_server.url + url)
            report[url] = _violations(page)
        client.force_login(patient)
        host = live_server.url.split("//", 1)[1].split(":")[0]
        context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "domain": host, "path": "/"}])
        for url in [reverse("dashboard"), reverse("predictions:upload"), reverse("predictions:history"),
                    reverse("predictions:detail", kwargs={"uuid": record.uuid}), reverse("accounts:profile")]:
            page.goto(live_server.url + url)
            report[url] = _violations(page)
        bad = {url: v for url, v in report.items() if v}
        assert not bad, bad
        # Control: the check does catch a violation (an image without alternative text).
        page.evaluate("() => document.querySelector('main').insertAdjacentHTML('beforeend', '<img src=\"/static/img/favicon.svg\">')")
        assert any(v["id"] == "image-alt" for v in _violations(page))
    finally:
        context.close()
