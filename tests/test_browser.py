"""The visitor's walk through the example shop, in headless Chromium.

It runs ``manage.py demo`` on a fresh embedded database and drives Debian's ``chromium``
through ``chromium-driver`` with Selenium (no browser download). It asserts what each page
shows and takes the README's screenshots: into a temporary folder, so that a test run
leaves the working tree as it was, and into ``docs/img/`` only when asked
(``PRODPATTERNS_SCREENSHOTS=1 pytest tests/test_browser.py``). Without a Chromium it is
skipped, saying how to install one; ``.ci/run`` installs it.
"""

import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from tests.demo_server import ROOT, demo_folder, demo_server, wait_for_login

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

README_IMAGES = ROOT / "docs" / "img"
# Where this run's screenshots go: the README's folder only when asked.
SCREENSHOTS = (
    README_IMAGES
    if os.environ.get("PRODPATTERNS_SCREENSHOTS")
    else Path(tempfile.mkdtemp(prefix="prodpatterns-screenshots-"))
)
NORTH_NAMES = ("Lovelace", "Turing", "Hopper", "Dijkstra")
SOUTH_NAMES = ("Liskov", "Knuth", "Allen", "Hamilton")
ORDERS = 60  # 30 per store: enough for lists, filters and search, quick to seed
STARTED = time.time()


def chromium_paths():
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (browser and driver):
        pytest.skip(
            "No Chromium found: install Debian's chromium and chromium-driver "
            "(apt-get install chromium chromium-driver); .ci/run does."
        )
    return browser, driver


@pytest.fixture(scope="module", autouse=True)
def screenshot_folder():
    """A temporary folder goes when the module is done; the README's folder stays."""
    yield SCREENSHOTS
    if SCREENSHOTS != README_IMAGES:
        shutil.rmtree(SCREENSHOTS, ignore_errors=True)


@pytest.fixture(scope="module")
def shop():
    with demo_folder() as folder, demo_server(folder, "--orders", str(ORDERS)) as running:
        proc, base, _, log = running
        status, _body = wait_for_login(proc, base)
        assert status == 200, log.read_text() if proc.poll() is not None else "no answer"
        yield base


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        "--lang=en-US",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


class Visitor:
    """Alice, staff of the North Store, in one browser."""

    def __init__(self, driver, base):
        self.driver, self.base = driver, base

    def open(self, path):
        self.driver.get(self.base + path)
        return self

    def text(self):
        return self.driver.find_element(By.TAG_NAME, "body").text

    def css(self, selector):
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def click(self, selector, navigates=True):
        """Click; by default wait until the browser has left the page (then it loads the
        next one before anything reads it). Chromedriver may answer a poll made while the
        page is being torn down with "unhandled inspector error" instead of "stale": that
        poll is repeated, not taken as a failure."""
        page = self.driver.find_element(By.TAG_NAME, "html")
        self.driver.find_element(By.CSS_SELECTOR, selector).click()
        if navigates:
            WebDriverWait(self.driver, 30, ignored_exceptions=(WebDriverException,)).until(
                expected_conditions.staleness_of(page)
            )

    def fill(self, selector, value):
        field = self.driver.find_element(By.CSS_SELECTOR, selector)
        field.clear()
        field.send_keys(value)

    def submit(self, selector):
        self.click(selector)

    def shot(self, name):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        assert self.driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))

    def log_in(self, username):
        self.open("/admin/login/?next=/admin/")
        self.fill("#id_username", username)
        self.fill("#id_password", username)
        self.submit('#login-form input[type="submit"]')
        assert "Log out" in self.text() or self.css("#logout-form")


def test_the_visitor_walk(shop, browser):
    alice = Visitor(browser, shop)
    alice.log_in("alice")

    # Only the North Store's rows, in lists, filters, search, autocomplete and the log.
    alice.open("/admin/shop/order/")
    numbers = [a.text for a in alice.css("#result_list th.field-number a")]
    assert numbers and all(number.startswith("N") for number in numbers)
    page = alice.text()
    assert f"{ORDERS // 2} orders" in page
    assert any(name in page for name in NORTH_NAMES)
    assert not any(name in page for name in SOUTH_NAMES)  # the customer filter included
    alice.shot("02-orders")
    alice.open("/admin/shop/order/?q=S0")
    assert "0 orders" in alice.text()
    alice.open("/admin/autocomplete/?app_label=shop&model_name=order&field_name=customer")
    found = json.loads(alice.driver.find_element(By.TAG_NAME, "pre").text)["results"]
    assert found and all(any(n in r["text"] for n in NORTH_NAMES) for r in found)
    alice.open("/admin/prodpatterns/auditlog/")
    log = alice.text()
    assert "alice" in log and "bob" not in log
    alice.shot("03-audit-log")

    order = numbers[-1]
    alice.open(f"/admin/shop/order/?q={order}")
    alice.click("#result_list th.field-number a")
    change_url = alice.driver.current_url.removeprefix(shop)
    items = len(alice.css("#items-group tbody tr.has_original"))
    assert items >= 1

    # Soft-delete the order: its items go with it.
    alice.click("a.deletelink")
    assert "Are you sure" in alice.text()
    alice.shot("04-delete-confirm")
    alice.submit('#content form input[type="submit"]')
    assert "was deleted successfully" in alice.text()
    alice.open(f"/admin/shop/orderitem/?q={order}")
    assert "0 order items" in alice.text()
    alice.open(f"/admin/shop/orderitem/?q={order}&deleted=deleted")
    assert f"{items} order item" in alice.text()

    # The trash: restore the batch.
    alice.open(f"/admin/shop/order/?deleted=deleted&q={order}")
    alice.click("#result_list input.action-select", navigates=False)
    Select(alice.css('select[name="action"]')[0]).select_by_value("restore_selected")
    alice.click('button[name="index"]')
    preview = alice.text()
    assert f"shop.OrderItem: {items}" in preview and order in preview
    alice.shot("06-restore-preview")
    alice.submit('input[value="Yes, restore"]')
    assert f"Restored {items + 1} rows" in alice.text()
    alice.open(f"/admin/shop/orderitem/?q={order}")
    assert f"{items} order item" in alice.text()

    # Edit the order, see the diff in its history, revert it.
    alice.open(change_url)
    alice.fill("#id_note", "gift wrap, please")
    alice.click('input[name="_continue"]')
    alice.click("a.historylink")
    history_url = alice.driver.current_url.removeprefix(shop)
    history = alice.text()
    for action in ("update", "restore", "soft delete", "create"):
        assert action in history
    alice.open(history_url + "&action=update")  # the log's filters work on a history too
    alice.click("#result_list tbody a")
    assert "gift wrap, please" in alice.text()
    alice.shot("07-diff")
    alice.open(history_url + "&action=create")
    alice.click("#result_list tbody a")
    alice.click('a[href$="/revert/"]')
    assert "gift wrap, please" in alice.text()
    alice.shot("08-revert-preview")
    alice.submit('input[value="Yes, revert"]')
    assert "Reverted to audit entry" in alice.text()
    alice.open(change_url)
    assert alice.css("#id_note")[0].get_attribute("value") == ""

    # Two tabs on the same order: the second save is refused and says why.
    first = browser.current_window_handle
    browser.switch_to.new_window("tab")
    second = browser.current_window_handle
    alice.open(change_url)
    browser.switch_to.window(first)
    alice.open(change_url)
    alice.fill("#id_note", "from the first tab")
    alice.click('input[name="_continue"]')
    browser.switch_to.window(second)
    alice.fill("#id_note", "from the second tab")
    alice.click('input[name="_continue"]')
    conflict = alice.text()
    assert "alice saved this order" in conflict
    assert "note (now “from the first tab”)" in conflict
    assert "Nothing was saved" in conflict
    alice.shot("09-conflict")
    alice.open(change_url)
    assert alice.css("#id_note")[0].get_attribute("value") == "from the first tab"


def test_the_superuser_of_no_store_sees_no_store_rows(shop, browser):
    admin = Visitor(browser, shop)
    admin.driver.delete_all_cookies()
    admin.log_in("admin")
    admin.open("/admin/shop/store/")
    assert "North Store" in admin.text() and "South Store" in admin.text()
    admin.open("/admin/shop/order/")  # a 403 that says why, inside the admin
    page = admin.text()
    assert "You have no tenant" in page and "row-level security" in page
    assert "Acting for a tenant is off" in page  # the shop has no ADMIN_DATABASE


def test_every_screenshot_in_the_readme_was_taken_by_this_run(shop, browser):
    """Runs after the walk (pytest keeps file order): the README shows this run's pages."""
    names = re.findall(r"\(docs/img/([\w-]+\.png)\)", (ROOT / "README.md").read_text())
    assert len(names) >= 7
    for name in names:
        shot = SCREENSHOTS / name
        assert shot.stat().st_size > 10_000 and shot.stat().st_mtime >= STARTED, name
        assert (README_IMAGES / name).is_file(), f"the README shows {name}, not committed"
