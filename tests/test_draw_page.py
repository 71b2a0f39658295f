"""``playing-with-mnist draw``: the page's conversion of a drawing into the model's input, the command's message when
Gradio is missing, and the page itself in headless Chromium: written on with real pointer events, answering with a top 3,
cleared, and asking nothing of any machine but this one."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect

from playing_with_mnist.ingest.archive import display_labels
from playing_with_mnist.serving import cli

from .conftest import LOCAL_HOSTS, PROJECT_ROOT, free_port, stop_group, wait_until_up


def test_a_drawing_becomes_a_png_of_dark_ink_on_white() -> None:
    from playing_with_mnist.serving.page import drawing_to_base64

    # What Gradio's sketchpad gives: transparent where nothing is drawn (its colour values arbitrary), ink opaque.
    layer = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    ImageDraw.Draw(layer).line([(20, 5), (20, 35)], fill=(0, 0, 0, 255), width=4)
    png = Image.open(io.BytesIO(base64.b64decode(drawing_to_base64({"background": None, "layers": [layer], "composite": layer}))))
    pixels = np.asarray(png.convert("RGB"))
    assert png.format == "PNG" and png.size == (40, 40) and png.mode == "RGB"
    assert (pixels[:, :15] == 255).all() and (pixels[10:30, 19:21] == 0).all(), "ink black, the rest white paper"

    blank = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    assert drawing_to_base64(None) is None and drawing_to_base64({"composite": None}) is None
    assert drawing_to_base64({"composite": blank}) is None and drawing_to_base64({"composite": Image.new("RGB", (9, 9), "white")}) is None


def test_the_top3_text_becomes_the_labels_probabilities() -> None:
    from playing_with_mnist.serving.page import top3_label

    assert top3_label("A:0.912 4:0.050 H:0.011") == {"A": 0.912, "4": 0.05, "H": 0.011}


def test_draw_without_gradio_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio raises ModuleNotFoundError
    monkeypatch.delitem(sys.modules, "playing_with_mnist.serving.page", raising=False)
    assert cli.main("draw", ["--port", "1"]) == cli.EXIT_FAILED
    message = 'Error: the draw page needs Gradio, which is not installed: pip install -e ".[demo]"'
    assert capsys.readouterr().err.strip().splitlines() == [message]


def ink_pixels(page: Page, region: dict[str, float]) -> int:
    """How many pixels of ``region`` on the screen are dark (ink)."""
    shot = Image.open(io.BytesIO(page.screenshot(clip=region))).convert("L")
    return int((np.asarray(shot) < 128).sum())


@pytest.mark.browser
@pytest.mark.slow
def test_the_page_answers_a_drawn_character_with_a_top3(registered_project: Path, tiny_zip: Path, page: Page) -> None:
    with zipfile.ZipFile(tiny_zip) as archive:  # the model's classes: its training folders' display labels
        classes = set(display_labels(sorted({name.split("/")[1] for name in archive.namelist() if name.endswith(".png")})))
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "playing_with_mnist", "draw", "--port", str(port)], cwd=registered_project,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("websocket", lambda socket: requested.append(socket.url))
    try:
        wait_until_up(f"http://127.0.0.1:{port}/", server, 180)
        page.goto(f"http://127.0.0.1:{port}/")
        canvas = page.locator("#pad canvas").first
        expect(canvas).to_be_visible(timeout=60_000)
        expect(page.locator("#pad"), "the brush is not selected at start").not_to_contain_text("select the draw tool", timeout=30_000)
        box = canvas.bounding_box()
        assert box is not None
        centre_x, centre_y, half = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, 0.3 * min(box["width"], box["height"])
        # An "L", with the mouse as a person would: no tool chosen first, so the page must open with the brush in hand.
        page.mouse.move(centre_x - 0.6 * half, centre_y - half)
        page.mouse.down()
        page.mouse.move(centre_x - 0.6 * half, centre_y + half, steps=25)
        page.mouse.move(centre_x + 0.6 * half, centre_y + half, steps=15)
        page.mouse.up()
        page.mouse.move(5, 5)  # off the canvas: the brush's outline leaves with the pointer
        drawing = {"x": centre_x - 0.6 * half - 40, "y": centre_y - half - 40, "width": 1.2 * half + 80, "height": 2 * half + 80}

        answers = page.locator("#top3 [data-testid$='-confidence-set']")
        try:
            expect(answers, "no top 3 appeared for the drawing").to_have_count(3, timeout=60_000)
        finally:  # kept on failure too: it shows what the page looked like
            page.screenshot(path=PROJECT_ROOT / "test-artifacts" / "draw_page.png")
        labels = [answers.nth(i).get_attribute("data-testid").removesuffix("-confidence-set") for i in range(3)]
        assert len(set(labels)) == 3 and set(labels) <= classes, f"top 3 {labels} are not 3 of the model's classes {sorted(classes)}"
        assert page.locator("#top3").inner_text().count("%") == 3
        assert ink_pixels(page, drawing) > 2000, "the stroke is not on the canvas"

        page.get_by_role("button", name="Clear", exact=True).click()
        expect(answers, "the answer stayed after Clear").to_have_count(0, timeout=30_000)
        expect(page.locator("#top3 .output-class")).to_have_count(0)
        page.wait_for_timeout(1000)  # the canvas repaints on the next frames
        assert ink_pixels(page, drawing) == 0, "the canvas still shows ink after Clear"
        expect(page.locator("#pad")).not_to_contain_text("select the draw tool")

        # blob: and data: URLs are the page's own memory (the canvas' images), not requests to any machine.
        off_machine = [url for url in requested if urlparse(url).scheme not in ("blob", "data")
                       and urlparse(url).hostname not in LOCAL_HOSTS]
        assert requested and not off_machine, f"the page asked for things off this machine: {off_machine}"
    finally:
        stop_group(server)
