"""The viewer in a real headless Chromium (Debian's chromium and chromium-driver, through selenium),
against the app served over HTTP with task workers running: sign in, upload, watch, inspect, cancel,
delete, and a hostile segment shown as text.

Skipped, with the reason in pytest's summary, where /usr/bin/chromium or /usr/bin/chromedriver is
missing (`.ci/run` installs both). Nothing is downloaded at run time: selenium is pointed at the
system chromedriver, which keeps Selenium Manager out of it. The viewer is a client of the public
API only, so these run on SQLite alone; the API's own tests cover both databases.
"""
from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import pytest
import requests
from conftest import KEY
from helpers import create, finish

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
MISSING = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
pytestmark = pytest.mark.skipif(
    bool(MISSING), reason=f"browser tests need Debian's chromium and chromium-driver: missing {', '.join(MISSING)}")
webdriver = pytest.importorskip("selenium.webdriver", reason="browser tests need selenium (requirements-dev.txt)")

from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

HOSTILE = "<img src=x onerror=alert(1)>"
DESKTOP = (1280, 1000)
PHONE = (390, 844)
DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.fixture
def database_url(tmp_path):
    """SQLite only: the viewer is a client of the API, whose own tests cover both databases."""
    return f"sqlite:///{tmp_path / 'test.sqlite3'}"


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module; each test opens its own server, so its own origin and storage."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--disable-extensions", "--no-first-run", "--disable-background-networking",
                     f"--window-size={DESKTOP[0]},{DESKTOP[1]}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)))
    yield driver
    driver.quit()


@pytest.fixture
def page(browser, live_server):
    """The browser at desktop size; after the test, no script error and no CSP violation was logged."""
    browser.set_window_size(*DESKTOP)
    browser.get_log("browser")  # drop what earlier tests left
    yield browser
    problems = [entry["message"] for entry in browser.get_log("browser")
                if "Content Security Policy" in entry["message"] or "Uncaught" in entry["message"]]
    assert not problems, problems


@pytest.fixture
def workers(app):
    """Two task workers, as a web process runs them."""
    from worker.service import BackgroundWorkers

    running = BackgroundWorkers(app, 2).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory):
    """Where the tests leave their screenshots (and docs/ too with VIEWER_SCREENSHOTS_TO_DOCS=1)."""
    return tmp_path_factory.mktemp("viewer-screenshots")


def save_screenshot(driver, folder: Path, name: str, to_docs: bool = False, scroll_to: str | None = None) -> None:
    if scroll_to:
        driver.execute_script("document.querySelector(arguments[0]).scrollIntoView()", scroll_to)
    else:
        driver.execute_script("window.scrollTo(0, 0)")
    path = folder / f"{name}.png"
    assert driver.save_screenshot(str(path))
    if to_docs and os.environ.get("VIEWER_SCREENSHOTS_TO_DOCS") == "1":
        shutil.copyfile(path, DOCS / f"{name}.png")


def save_phone_screenshot(driver, folder: Path, name: str, scroll_to: str | None = None) -> None:
    """A screenshot at a phone's width (emulated: a headless window is never narrower than 500 px)."""
    width, height = PHONE
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 2, "mobile": True})
    try:
        assert driver.execute_script("return document.documentElement.clientWidth") == width
        # Nothing is wider than the phone's screen: the page never scrolls sideways.
        assert driver.execute_script("return document.documentElement.scrollWidth") == width
        save_screenshot(driver, folder, name, scroll_to=scroll_to)
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def wait(driver, timeout: float = 60):
    return WebDriverWait(driver, timeout, poll_frequency=0.1)


def visible(driver, css: str, timeout: float = 30):
    return wait(driver, timeout).until(EC.visibility_of_element_located((By.CSS_SELECTOR, css)))


def sign_in(driver, key: str = KEY) -> None:
    field = visible(driver, "#api-key")
    field.clear()
    field.send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "#sign-in-form button[type=submit]").click()


def signed_in(driver, key: str = KEY) -> None:
    sign_in(driver, key)
    visible(driver, "#app")


def two_page_pdf() -> bytes:
    """A report of two pages: titles, text, a list, tables, a picture, headers and footers."""
    from pdf_fixtures import report_pdf

    return report_pdf()


def small_png() -> bytes:
    """A PNG with two lines of text, as a scan of a short note."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (900, 400), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=36)
    draw.text((60, 80), "Viewer test note", fill="black", font=font)
    draw.text((60, 200), "Scanned lines are read by OCR.", fill="black", font=font)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", dpi=(150, 150))
    return buffer.getvalue()


def api_task(live_server: str, task_id: str) -> dict:
    response = requests.get(f"{live_server}/api/v1/task/{task_id}", headers={"Authorization": KEY}, timeout=30)
    response.raise_for_status()
    return response.json()


def unlabelled(driver) -> list[str]:
    """The controls on the page, drawn ones included, that have no label or accessible name."""
    return driver.execute_script("""
        return [...document.querySelectorAll('input, select, textarea, button')].filter((control) => {
            if (control.matches('input, select, textarea')) return control.labels.length === 0;
            return !(control.getAttribute('aria-label') || control.textContent.trim());
        }).map((control) => control.outerHTML.slice(0, 120));
    """)


def page_one_geometry(driver) -> dict:
    """The displayed page 1 image's rect and each of its boxes' rect relative to it, in CSS pixels."""
    return driver.execute_script("""
        const frame = document.querySelector('.page-frame[data-page="1"]');
        const image = frame.querySelector('img').getBoundingClientRect();
        return {width: image.width, height: image.height, boxes: [...frame.querySelectorAll('.box')].map((box) => {
            const rect = box.getBoundingClientRect();
            return {id: box.dataset.segmentId, type: box.dataset.type, left: rect.left - image.left,
                    top: rect.top - image.top, width: rect.width, height: rect.height};
        })};
    """)


def test_sign_in_with_a_wrong_key_then_the_right_one(page, live_server):
    page.get(live_server + "/")  # a browser asks for HTML: it lands on the viewer
    wait(page).until(EC.url_to_be(live_server + "/ui/"))
    sign_in(page, "not-a-key")
    wait(page).until(EC.text_to_be_present_in_element((By.ID, "sign-in-error"), "Invalid or inactive API key"))
    assert not page.find_element(By.ID, "app").is_displayed()
    assert page.execute_script("return sessionStorage.length") == 0

    signed_in(page)
    assert page.execute_script("return Object.values(sessionStorage)") == [KEY]
    assert page.get_cookies() == []
    assert KEY not in page.current_url
    page.find_element(By.ID, "sign-out").click()
    visible(page, "#sign-in")
    assert page.execute_script("return sessionStorage.length") == 0


def test_upload_watch_and_inspect_a_pdf_and_a_png(page, live_server, workers, tmp_path, screenshots):
    pdf, png = tmp_path / "report.pdf", tmp_path / "note.png"
    pdf.write_bytes(two_page_pdf())
    png.write_bytes(small_png())
    page.get(live_server + "/ui/")
    signed_in(page)
    Select(page.find_element(By.ID, "upload-tokenizer")).select_by_value("Word")
    page.find_element(By.ID, "files").send_keys(f"{pdf}\n{png}")
    page.find_element(By.ID, "upload-button").click()

    rows = "#task-rows tr[data-status=Succeeded]"
    wait(page, 240).until(lambda driver: len(driver.find_elements(By.CSS_SELECTOR, rows)) == 2)
    names = {row.find_element(By.CSS_SELECTOR, "td.file").text for row in page.find_elements(By.CSS_SELECTOR, rows)}
    assert names == {"report.pdf", "note.png"}
    assert unlabelled(page) == []
    save_screenshot(page, screenshots, "viewer-list", to_docs=True)
    save_phone_screenshot(page, screenshots, "viewer-list-phone")

    page.find_element(By.LINK_TEXT, "report.pdf").click()
    task_id = page.current_url.rsplit("/", 1)[1]
    visible(page, '.page-frame[data-page="1"] .box')
    task = api_task(live_server, task_id)
    assert task["configuration"]["chunk_processing"]["tokenizer"] == {"Enum": "Word"}
    segments = {segment["segment_id"]: segment for chunk in task["output"]["chunks"] for segment in chunk["segments"]}
    first_page = {key: segment for key, segment in segments.items() if segment["page_number"] == 1}
    page_width = next(item["page_width"] for item in task["output"]["pages"] if item["page_number"] == 1)

    drawn = page_one_geometry(page)
    assert sorted(box["id"] for box in drawn["boxes"]) == sorted(first_page)
    scale = drawn["width"] / page_width
    for box in drawn["boxes"]:
        bbox = first_page[box["id"]]["bbox"]
        for side in ("left", "top", "width", "height"):
            assert box[side] == pytest.approx(bbox[side] * scale, abs=1.5), (box, bbox, side)

    # Page 1's image (a signed URL of this service, rendered on its first request) loads under the CSP.
    wait(page, 60).until(lambda driver: driver.execute_script(
        "const image = document.querySelector('.page-frame[data-page=\"1\"] img');"
        "return image.complete && image.naturalWidth > 0"))

    assert unlabelled(page) == []
    title = next(segment for segment in first_page.values() if segment["segment_type"] == "Title")
    page.find_element(By.CSS_SELECTOR, f'.box[data-segment-id="{title["segment_id"]}"]').click()
    wait(page).until(EC.text_to_be_present_in_element((By.ID, "detail-text"), title["text"]))
    assert page.find_element(By.ID, "detail-type").text == "Title"
    save_screenshot(page, screenshots, "viewer-task", to_docs=True, scroll_to="#document")
    save_phone_screenshot(page, screenshots, "viewer-task-phone", scroll_to="#document")

    # The keyboard reaches the boxes too: an arrow key moves to the next segment and shows it.
    following = page.execute_script(
        "const boxes = [...document.querySelectorAll('#pages .box')];"
        "const at = boxes.findIndex((box) => box.dataset.segmentId === arguments[0]);"
        "return boxes.sort((a, b) => a.dataset.segmentIndex - b.dataset.segmentIndex)"
        "  .find((box) => +box.dataset.segmentIndex > +boxes[at].dataset.segmentIndex).dataset.segmentId;",
        title["segment_id"])
    page.switch_to.active_element.send_keys(Keys.ARROW_RIGHT)
    wait(page).until(lambda driver: driver.switch_to.active_element.get_attribute("data-segment-id") == following)
    wait(page).until(EC.text_to_be_present_in_element((By.ID, "detail-type"), segments[following]["segment_type"]))
    images = page.find_elements(By.CSS_SELECTOR, ".page-frame img")
    assert len(images) == task["output"]["page_count"] == 2
    assert all(image.get_attribute("loading") == "lazy" for image in images)

    hidden_type = next(segment["segment_type"] for segment in first_page.values() if segment["segment_type"] != "Title")
    boxes_of_type = page.find_elements(By.CSS_SELECTOR, f'.box[data-type="{hidden_type}"]')
    assert boxes_of_type and all(box.is_displayed() for box in boxes_of_type)
    page.find_element(By.CSS_SELECTOR, f'#legend input[data-type="{hidden_type}"]').click()
    wait(page).until(lambda driver: not any(box.is_displayed() for box in boxes_of_type))
    assert page.find_element(By.CSS_SELECTOR, f'.box[data-segment-id="{title["segment_id"]}"]').is_displayed()

    chunks = page.find_elements(By.CSS_SELECTOR, "#chunks summary")
    assert len(chunks) == len(task["output"]["chunks"])
    assert f'{task["output"]["chunks"][0]["chunk_length"]} tokens' in chunks[0].text

    # The PNG: one page, its OCR'd segments drawn on it.
    page.find_element(By.LINK_TEXT, "← All tasks").click()
    wait(page).until(EC.element_to_be_clickable((By.LINK_TEXT, "note.png"))).click()
    visible(page, '.page-frame[data-page="1"] .box')
    scan = api_task(live_server, page.current_url.rsplit("/", 1)[1])
    scanned = {segment["segment_id"] for chunk in scan["output"]["chunks"] for segment in chunk["segments"]}
    assert sorted(box["id"] for box in page_one_geometry(page)["boxes"]) == sorted(scanned)


def test_a_queued_task_is_cancelled_from_its_page(page, live_server, client):
    task = create(client, {"Authorization": KEY})  # no workers: it stays Starting
    page.get(f"{live_server}/ui/task/{task['task_id']}")
    signed_in(page)
    wait(page).until(EC.text_to_be_present_in_element((By.ID, "task-status"), "Starting"))
    assert not page.find_element(By.ID, "delete-task").is_displayed()
    visible(page, "#cancel-task").click()
    wait(page).until(EC.text_to_be_present_in_element((By.ID, "task-status"), "Cancelled"))
    assert page.find_element(By.ID, "action-result").text == "Task cancelled"
    assert not page.find_element(By.ID, "cancel-task").is_displayed()
    assert api_task(live_server, task["task_id"])["status"] == "Cancelled"


def test_a_finished_task_is_deleted_and_leaves_the_list(page, live_server, app, client):
    kept, deleted = (create(client, {"Authorization": KEY}) for _ in range(2))
    for task in (kept, deleted):
        finish(app, task["task_id"])
    page.get(live_server + "/ui/")
    signed_in(page)
    wait(page).until(lambda driver: len(driver.find_elements(By.CSS_SELECTOR, "#task-rows tr")) == 2)
    page.find_element(By.CSS_SELECTOR, f'tr[data-task-id="{deleted["task_id"]}"] a').click()
    visible(page, "#delete-task").click()
    visible(page, "#confirm-delete-no").click()  # the confirmation can be declined
    wait(page).until(EC.invisibility_of_element_located((By.ID, "confirm-delete")))
    page.find_element(By.ID, "delete-task").click()
    visible(page, "#confirm-delete-yes").click()
    wait(page).until(EC.url_to_be(live_server + "/ui/"))
    wait(page).until(lambda driver: len(driver.find_elements(By.CSS_SELECTOR, "#task-rows tr")) == 1)
    assert page.find_elements(By.CSS_SELECTOR, f'tr[data-task-id="{kept["task_id"]}"]')
    assert not page.find_elements(By.CSS_SELECTOR, f'tr[data-task-id="{deleted["task_id"]}"]')
    assert requests.get(f"{live_server}/api/v1/task/{deleted['task_id']}", headers={"Authorization": KEY},
                        timeout=30).status_code == 404


def drop_file(driver, name: str, text: str) -> None:
    """Drop a file on the drop zone, as a user dragging it from their desktop."""
    driver.execute_script("""
        const transfer = new DataTransfer();
        transfer.items.add(new File([arguments[1]], arguments[0], {type: "text/plain"}));
        const zone = document.getElementById("drop-zone");
        for (const type of ["dragenter", "dragover", "drop"]) {
            zone.dispatchEvent(new DragEvent(type, {dataTransfer: transfer, bubbles: true, cancelable: true}));
        }
    """, name, text)


def test_a_hostile_segment_is_shown_as_text_and_runs_nothing(page, live_server, workers):
    page.get(live_server + "/ui/")
    signed_in(page)
    drop_file(page, f"{HOSTILE}.txt", f"{HOSTILE}\n")
    wait(page).until(EC.text_to_be_present_in_element((By.ID, "chosen"), f"1 chosen: {HOSTILE}.txt"))
    page.find_element(By.ID, "upload-button").click()
    wait(page, 60).until(lambda driver: [status for _, status in listed(driver)] == ["Succeeded"])
    link = page.find_element(By.CSS_SELECTOR, "#task-rows a")
    assert link.text == f"{HOSTILE}.txt"
    link.click()
    visible(page, "#pages [data-segment-index]").click()
    wait(page).until(EC.text_to_be_present_in_element((By.ID, "detail-text"), HOSTILE))
    assert page.find_element(By.ID, "task-title").text == f"{HOSTILE}.txt"
    assert not page.find_elements(By.CSS_SELECTOR, "main img")  # nothing parsed the text as markup
    with pytest.raises(NoAlertPresentException):
        page.switch_to.alert.text  # noqa: B018
    task = api_task(live_server, page.current_url.rsplit("/", 1)[1])
    segment = task["output"]["chunks"][0]["segments"][0]
    assert segment["text"] == HOSTILE
    # The Markdown and HTML are shown as their own source text, whatever markup they hold.
    assert page.find_element(By.ID, "detail-markdown").text == segment["markdown"].strip()
    assert page.find_element(By.ID, "detail-html").text == segment["html"].strip()


def test_a_failed_task_says_why(page, live_server, app, client):
    task = create(client, {"Authorization": KEY})
    finish(app, task["task_id"], status="Failed", message="Failed to download file: HTTP 404")
    page.get(f"{live_server}/ui/task/{task['task_id']}")
    signed_in(page)
    failure = visible(page, "#task-failure")
    assert failure.text == "This task failed: Failed to download file: HTTP 404"
    assert page.find_element(By.ID, "delete-task").is_displayed()
    assert page.find_element(By.ID, "update-panel").is_displayed()
    assert not page.find_element(By.ID, "cancel-task").is_displayed()


def test_the_page_says_when_the_server_cannot_be_reached(page, app):
    """The server goes away: a refresh shows the banner; it comes back on the same port: the banner goes."""
    import threading

    from werkzeug.serving import make_server

    def serve(port: int = 0):
        server = make_server("127.0.0.1", port, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        return server, thread

    server, thread = serve()
    port = server.server_port
    page.get(f"http://127.0.0.1:{port}/ui/")
    signed_in(page)
    assert not page.find_element(By.ID, "offline").is_displayed()
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)
    page.find_element(By.ID, "refresh").click()
    visible(page, "#offline")
    assert "cannot be reached" in page.find_element(By.ID, "offline").text
    server, thread = serve(port)
    try:
        wait(page, 30).until(EC.invisibility_of_element_located((By.ID, "offline")))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def listed(driver) -> list[tuple[str, str]]:
    """The list's rows as (task id, status), read in one go (a refresh replaces the rows)."""
    return [tuple(row) for row in driver.execute_script(
        "return [...document.querySelectorAll('#task-rows tr')].map((row) => [row.dataset.taskId, row.dataset.status])")]


def test_a_finished_task_runs_again_with_changed_options_and_the_list_filters_and_pages(page, live_server, app, client):
    tasks = [create(client, {"Authorization": KEY}) for _ in range(3)]
    for task in tasks[1:]:
        finish(app, task["task_id"])
    page.get(live_server + "/ui/")
    signed_in(page)
    wait(page).until(lambda driver: len(listed(driver)) == 3)
    Select(page.find_element(By.ID, "status-filter")).select_by_value("Succeeded")
    wait(page).until(lambda driver: sorted(listed(driver)) == sorted((task["task_id"], "Succeeded") for task in tasks[1:]))
    page.execute_script("document.getElementById('page-size').add(new Option('1', '1'))")
    Select(page.find_element(By.ID, "page-size")).select_by_value("1")
    wait(page).until(lambda driver: len(listed(driver)) == 1)
    first = listed(page)[0]
    page.find_element(By.ID, "next-page").click()
    wait(page).until(EC.text_to_be_present_in_element((By.ID, "page-label"), "Page 2"))
    wait(page).until(lambda driver: len(listed(driver)) == 1 and listed(driver)[0] != first)
    assert {first[0], listed(page)[0][0]} == {tasks[1]["task_id"], tasks[2]["task_id"]}

    page.get(f"{live_server}/ui/task/{tasks[1]['task_id']}")
    wait(page).until(EC.text_to_be_present_in_element((By.ID, "task-status"), "Succeeded"))
    page.find_element(By.CSS_SELECTOR, "#update-panel summary").click()
    length = visible(page, "#update-target-length")
    assert length.get_attribute("value") == "4096"  # the form starts from the task's configuration
    length.clear()
    length.send_keys("512")
    page.find_element(By.ID, "update-button").click()
    wait(page).until(EC.text_to_be_present_in_element((By.ID, "task-status"), "Starting"))
    assert page.find_element(By.ID, "task-message").text == "Task queued for update"
    assert page.find_element(By.ID, "cancel-task").is_displayed()
    assert api_task(live_server, tasks[1]["task_id"])["configuration"]["chunk_processing"]["target_length"] == 512


def test_copy_markdown_and_download_json(page, live_server, app, client, tmp_path):
    task = create(client, {"Authorization": KEY})
    finish(app, task["task_id"])
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    page.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    page.execute_cdp_cmd("Browser.grantPermissions", {"origin": live_server,
                                                      "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    page.get(f"{live_server}/ui/task/{task['task_id']}")
    signed_in(page)
    wait(page).until(EC.element_to_be_clickable((By.ID, "copy-markdown"))).click()
    wait(page).until(EC.text_to_be_present_in_element((By.ID, "action-result"), "Copied"))
    copied = page.execute_async_script("navigator.clipboard.readText().then(arguments[0], (error) => arguments[0](String(error)))")
    assert copied == "Some text."

    page.find_element(By.ID, "download-json").click()
    saved = downloads / f"{task['task_id']}.json"
    wait(page).until(lambda driver: saved.is_file() and saved.stat().st_size > 0)
    assert json.loads(saved.read_text())["task_id"] == task["task_id"]
