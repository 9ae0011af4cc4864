"""Page images of PDF pages: rendered by the service from the task's PDF when first asked for, then kept."""
from __future__ import annotations

import base64
import io
import random
import threading

import pytest
from helpers import create, finish
from pdf_fixtures import report_pdf
from PIL import Image
from reportlab.pdfgen import canvas
from sqlalchemy import delete, insert, select
from test_worker import wait_for, workers  # noqa: F401 - the fixture

from models import TaskFile, db, task_files_table, tasks_table
from web import page_images

PAGE = "page-2-918x1188.jpg"


def stored_names(app, task_id: str) -> set[str]:
    with app.app_context():
        names = set(db.session.scalars(select(TaskFile.name).where(TaskFile.task_id == task_id)))
        db.session.remove()
        return names


def page_output(*names: str) -> dict:
    """An Output listing these page images (sizes as their names say)."""
    pages = []
    for name in names:
        number, size = name.removeprefix("page-").removesuffix(".jpg").split("-")
        width, height = (int(value) for value in size.split("x"))
        pages.append({"image": f"file:{name}", "page_number": int(number), "page_width": width,
                      "page_height": height, "dpi": 108.0})
    return {"chunks": [], "file_name": "report.pdf", "page_count": len(pages), "pdf_url": "file:document.pdf",
            "mime_type": "application/pdf", "pages": pages}


def finished_with_pdf(app, client, auth, pdf: bytes, *names: str) -> str:
    """A task finished as a worker finishes a PDF: its output and its PDF stored, no page image."""
    task_id = create(client, auth, file_name="notes.md")["task_id"]
    finish(app, task_id, output=page_output(*names))
    with app.app_context():
        db.session.execute(insert(task_files_table).values(
            task_id=task_id, name="document.pdf", mime_type="application/pdf", data=pdf))
        db.session.commit()
        db.session.remove()
    return task_id


def page_urls(client, auth, task_id: str) -> list[str]:
    return [page["image"] for page in client.get(f"/task/{task_id}", headers=auth).json["output"]["pages"]]


def test_a_pdf_page_image_is_rendered_on_the_first_request_then_kept(app, client, auth, workers):  # noqa: F811
    task = wait_for(client, auth, create(client, auth, report_pdf(), file_name="report.pdf")["task_id"])
    assert task["status"] == "Succeeded", task["message"]
    task_id = task["task_id"]
    pages = task["output"]["pages"]
    assert [page["page_width"] for page in pages] == [918, 918] and pages[1]["image"].split("?")[0].endswith(PAGE)
    assert not any(name.startswith("page-") for name in stored_names(app, task_id))  # nothing rendered yet

    first = client.get(pages[1]["image"].removeprefix("http://localhost"))
    assert first.status_code == 200 and first.mimetype == "image/jpeg"
    image = Image.open(io.BytesIO(first.data))
    assert image.size == (918, 1188)
    assert image.convert("L").getextrema()[0] < 64  # the page's text is on it
    assert PAGE in stored_names(app, task_id)
    again = client.get(pages[1]["image"].removeprefix("http://localhost"))
    assert again.status_code == 200 and again.data == first.data

    inline = client.get(f"/task/{task_id}?base64_urls=true", headers=auth).json["output"]["pages"]
    assert inline[1]["image"] == "data:image/jpeg;base64," + base64.b64encode(first.data).decode()
    assert inline[0]["image"].startswith("data:image/jpeg;base64,")  # rendered for this answer
    assert "page-1-918x1188.jpg" in stored_names(app, task_id)


def test_a_page_that_cannot_be_rendered_is_a_clear_error_and_nothing_is_stored(app, client, auth):
    task_id = finished_with_pdf(app, client, auth, b"%PDF-1.4 damaged beyond reading", PAGE)
    response = client.get(page_urls(client, auth, task_id)[0].removeprefix("http://localhost"))
    assert response.status_code == 500
    assert response.text.startswith("Could not render the page image: the page is damaged (Failed to load document")
    inline = client.get(f"/task/{task_id}?base64_urls=true", headers=auth)
    assert inline.status_code == 200 and inline.json["output"]["pages"][0]["image"] is None
    assert stored_names(app, task_id) == {"document.pdf", "input"}


def test_a_page_the_pdf_does_not_have_is_not_found(app, client, auth):
    task_id = finished_with_pdf(app, client, auth, report_pdf(), "page-3-918x1188.jpg")
    response = client.get(page_urls(client, auth, task_id)[0].removeprefix("http://localhost"))
    assert (response.status_code, response.text) == (404, "File not found")


def test_a_task_without_its_pdf_has_no_page_image_to_render(app, client, auth):
    task_id = create(client, auth, file_name="notes.md")["task_id"]
    finish(app, task_id, output=page_output(PAGE))
    response = client.get(page_urls(client, auth, task_id)[0].removeprefix("http://localhost"))
    assert (response.status_code, response.text) == (404, "File not found")


def test_a_render_is_not_kept_for_a_task_deleted_meanwhile(app, client, auth):
    task_id = finished_with_pdf(app, client, auth, report_pdf(), PAGE)
    url = page_urls(client, auth, task_id)[0].removeprefix("http://localhost")
    real = page_images.render_in_child

    def render_then_task_goes(document, names, timeout):
        images = real(document, names, timeout)
        assert client.delete(f"/task/{task_id}", headers=auth).status_code == 200
        return images

    page_images.render_in_child = render_then_task_goes
    try:
        response = client.get(url)
    finally:
        page_images.render_in_child = real
    assert response.status_code == 200  # the image was made for this request
    assert stored_names(app, task_id) == set()  # and nothing is left behind the deleted task


def test_two_requests_rendering_the_same_page_keep_one_image(app, client, auth, monkeypatch):
    # The second request waits for the renderer as long as the first renders, however loaded the
    # machine is (a busy renderer's 503 has its own test).
    monkeypatch.setattr(page_images, "SLOT_WAIT_SECONDS", 60.0)
    task_id = finished_with_pdf(app, client, auth, report_pdf(), PAGE)
    url = page_urls(client, auth, task_id)[0].removeprefix("http://localhost")
    real = page_images.render_in_child
    both_rendering = threading.Barrier(2, timeout=30)

    def render_together(document, names, timeout):
        images = real(document, names, timeout)
        both_rendering.wait()  # neither has stored its image yet
        return images

    results = []

    def fetch():
        with app.test_client() as own:
            results.append(own.get(url))

    page_images.render_in_child = render_together
    try:
        threads = [threading.Thread(target=fetch) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        page_images.render_in_child = real
    assert [response.status_code for response in results] == [200, 200]
    assert results[0].data == results[1].data  # the second store was refused, and its image still went out


@pytest.mark.parametrize("name", ["page-1.jpg", "page-0-10x10.jpg", "page-1-10x10.png", "segment-1.jpg"])
def test_only_page_image_names_are_rendered(app, client, auth, name):
    task_id = finished_with_pdf(app, client, auth, report_pdf(), PAGE)
    assert not page_images.is_page_image(name)
    with app.test_request_context():
        from web.storage import FileLinks

        url = FileLinks(False).url(task_id, name).removeprefix("http://localhost")
    response = client.get(url)
    assert (response.status_code, response.text) == (404, "File not found")
    assert stored_names(app, task_id) == {"document.pdf", "input"}


def heavy_pdf(seed: int = 1) -> bytes:
    """One page of 60,000 crossing lines: about a second to render."""
    print(f"seed={seed}")
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, invariant=1)
    lines, rng = pdf.beginPath(), random.Random(seed)
    for _ in range(60_000):
        lines.moveTo(rng.random() * 600, rng.random() * 800)
        lines.lineTo(rng.random() * 600, rng.random() * 800)
    pdf.drawPath(lines, stroke=1)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def test_a_render_past_its_deadline_is_a_clear_error_and_the_server_goes_on(app, client, auth, monkeypatch):
    task_id = finished_with_pdf(app, client, auth, heavy_pdf(), "page-1-918x1188.jpg")
    url = page_urls(client, auth, task_id)[0].removeprefix("http://localhost")
    monkeypatch.setattr(page_images, "RENDER_SECONDS", 0.3)
    slow = client.get(url)
    assert (slow.status_code, slow.mimetype) == (503, "text/plain")
    assert slow.text.startswith("Could not render the page image now: rendering took longer than 0.")
    assert slow.headers["Retry-After"] == "600"  # remembered: not tried again before then
    assert stored_names(app, task_id) == {"document.pdf", "input"}
    renders = []
    monkeypatch.setattr(page_images, "render_in_child", lambda *args: renders.append(args))
    again = client.get(url)  # remembered: answered at once, not rendered again
    assert (again.status_code, again.text, renders) == (503, slow.text, [])
    assert 590 <= int(again.headers["Retry-After"]) <= 600
    monkeypatch.setattr(page_images, "RENDER_SECONDS", 20.0)  # a fresh document child renders the next one
    monkeypatch.undo()
    other = finished_with_pdf(app, client, auth, report_pdf(), PAGE)
    assert client.get(page_urls(client, auth, other)[0].removeprefix("http://localhost")).status_code == 200


def test_base64_urls_render_a_task_s_missing_pages_in_one_job(app, client, auth, monkeypatch):
    names = ["page-1-918x1188.jpg", PAGE]
    task_id = finished_with_pdf(app, client, auth, report_pdf(), *names)
    real, jobs = page_images.render_in_child, []

    def counted(document, job_names, timeout):
        jobs.append(list(job_names))
        return real(document, job_names, timeout)

    monkeypatch.setattr(page_images, "render_in_child", counted)
    pages = client.get(f"/task/{task_id}?base64_urls=true", headers=auth).json["output"]["pages"]
    assert jobs == [names] and all(page["image"].startswith("data:image/jpeg;base64,") for page in pages)
    client.get(f"/task/{task_id}?base64_urls=true", headers=auth)
    assert jobs == [names]  # kept: nothing to render the second time


def test_listing_with_base64_urls_survives_a_task_deleted_while_pages_render(app, client, auth, monkeypatch):
    first = finished_with_pdf(app, client, auth, report_pdf(), PAGE)
    second = finished_with_pdf(app, client, auth, report_pdf(), PAGE)
    real = page_images.render_in_child

    def render_then_delete_the_other(document, names, timeout):
        images = real(document, names, timeout)
        with db.engine.begin() as connection:  # another client's delete, on its own connection
            for task_id in (first, second):
                connection.execute(delete(task_files_table).where(task_files_table.c.task_id == task_id))
                connection.execute(delete(tasks_table).where(tasks_table.c.task_id == task_id))
        return images

    monkeypatch.setattr(page_images, "render_in_child", render_then_delete_the_other)
    response = client.get("/tasks?base64_urls=true&include_chunks=true", headers=auth)
    assert response.status_code == 200, response.text
    assert {task["task_id"] for task in response.json} == {first, second}


def test_a_batch_that_fails_as_a_whole_is_rendered_a_page_at_a_time(app, client, auth, monkeypatch):
    names = ["page-1-918x1188.jpg", PAGE]
    task_id = finished_with_pdf(app, client, auth, report_pdf(), *names)
    real, jobs = page_images.render_in_child, []

    def fails_for_more_than_one(document, job_names, timeout):
        jobs.append(list(job_names))
        if len(job_names) > 1:
            raise page_images.PageImageError("the document parser died (exit code -11)")
        return real(document, job_names, timeout)

    monkeypatch.setattr(page_images, "render_in_child", fails_for_more_than_one)
    pages = client.get(f"/task/{task_id}?base64_urls=true", headers=auth).json["output"]["pages"]
    assert jobs == [names, names[:1], names[1:]]
    assert all(page["image"].startswith("data:image/jpeg;base64,") for page in pages)


def test_a_request_that_cannot_have_the_renderer_soon_is_told_to_come_back(app, client, auth, monkeypatch):
    task_id = finished_with_pdf(app, client, auth, report_pdf(), PAGE)
    url = page_urls(client, auth, task_id)[0].removeprefix("http://localhost")
    monkeypatch.setattr(page_images, "SLOT_WAIT_SECONDS", 0.2)
    assert page_images._renderer_lock.acquire(timeout=30)  # another request's render
    try:
        busy = client.get(url)
        inline = client.get(f"/task/{task_id}?base64_urls=true", headers=auth)
    finally:
        page_images._renderer_lock.release()
    assert (busy.status_code, busy.mimetype, busy.headers["Retry-After"]) == (503, "text/plain", "10")
    assert busy.text == "Could not render the page image now: the renderer stayed busy with other pages for 0.2 s"
    assert inline.status_code == 200 and inline.json["output"]["pages"][0]["image"] is None
    assert client.get(url).status_code == 200  # not remembered: rendered once the renderer is free
