"""The admin's reports in Chromium: the charts and their tables at phone and desk widths (axe,
no sideways page scrolling, screenshots to look at), and the form without JavaScript."""
from datetime import timedelta

import pytest

from tests.e2e.conftest import DESK, PHONE, SCREENSHOTS, login, screenshot
from tests.e2e.test_browser import TODAY, assert_fits, look


@pytest.mark.parametrize("viewport", [PHONE, DESK], ids=["phone", "desk"])
def test_an_admin_reads_the_reports(new_page, viewport):
    page = new_page(viewport=viewport)
    login(page, "admin@clinica.test")
    page.goto("/admin/")
    page.get_by_role("link", name="Reports").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Reports"
    for number, name in enumerate(("Utilisation per week, whole clinic", "No-show rate per week, whole clinic")):
        chart = page.get_by_role("img", name=name)
        box = chart.bounding_box()
        assert 300 < box["width"] <= viewport["width"]
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)  # each chart alone, to look at closely
        page.locator("figure.chart").nth(number).screenshot(
            path=str(SCREENSHOTS / f"admin-reports-chart-{number + 1}-{viewport['width']}.png"))
    assert page.get_by_role("table", name="Utilisation per week").is_visible()
    look(page, "admin-reports")
    # A table wider than the phone scrolls inside its box, which the keyboard can reach.
    region = page.get_by_role("region", name="Each doctor's week, and the whole clinic's")
    region.focus()
    assert page.evaluate("document.activeElement.getAttribute('role')") == "region"
    assert_fits(page, "admin-reports")
    page.goto("/admin/reports?from=2026-02-30&to=2026-03-01")
    assert page.get_by_role("alert").inner_text().startswith("Invalid date format (YYYY-MM-DD)")
    look(page, "admin-reports-refused")


def test_the_report_form_works_without_javascript(new_page):
    page = new_page(viewport=PHONE, javascript=False)
    login(page, "admin@clinica.test")
    page.goto("/admin/reports")
    monday = TODAY - timedelta(days=TODAY.weekday())
    page.get_by_label("First day").fill(monday.isoformat())
    page.get_by_label("Last day").fill((monday + timedelta(days=6)).isoformat())
    page.get_by_label("Doctor", exact=True).select_option(label="Dr. Laura Rossi")
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    assert f"from={monday.isoformat()}" in page.url
    assert page.get_by_role("img", name="Utilisation per week, Dr. Laura Rossi").is_visible()
    screenshot(page, "admin-reports-one-doctor")  # (axe needs JavaScript: checked above)
    page.get_by_label("Last day").fill((monday - timedelta(days=1)).isoformat())
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    assert page.get_by_role("alert").inner_text().startswith("The first day must not be after the last day")
