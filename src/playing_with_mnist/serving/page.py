"""``playing-with-mnist draw``'s page: a Gradio sketchpad to write one character on, the model's top 3 beside it.
The page loads nothing from off this machine and sends nothing anywhere but its own server."""

from __future__ import annotations

import base64
import io
import os
from typing import Any

import pandas as pd
from PIL import Image

# Set before gradio is imported: it reads them at import and at launch (usage statistics, version check, HF telemetry).
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"

import gradio as gr  # noqa: E402

CANVAS = 384  # 12 x 32: the model sees the drawing shrunk 12 times
# A 28 px stroke is 2.3 px at 32x32: between the real set's thin pen and EMNIST's thick strokes, and still there after shrinking.
BRUSH_RADIUS = 14
# The paper. Gradio 6's sketchpad opens an EMPTY value with its image tool ("select the draw tool to start") even without
# sources; a value with a background opens with the brush selected, and setting it again re-selects the brush.
BLANK = Image.new("RGB", (CANVAS, CANVAS), "white")


def drawing_to_base64(value: dict[str, Any] | None) -> str | None:
    """Gradio's editor value (``background``, ``layers``, ``composite``: PIL images) to the base64 text of a PNG of
    the drawing, dark ink composited on white; None when nothing is drawn."""
    composite = (value or {}).get("composite")
    if composite is None:
        return None
    paper = Image.new("RGBA", composite.size, "white")
    drawing = Image.alpha_composite(paper, composite.convert("RGBA")).convert("RGB")
    if drawing.convert("L").getextrema()[0] == 255:  # white everywhere
        return None
    buffer = io.BytesIO()
    drawing.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def top3_label(top3: str) -> dict[str, float]:
    """The model's ``top3`` text, ``"A:0.912 4:0.050 H:0.011"``, to ``{"A": 0.912, "4": 0.05, "H": 0.011}``."""
    return {label: float(p) for label, _, p in (item.rpartition(":") for item in top3.split())}


def answer(model: Any, value: dict[str, Any] | None) -> tuple[dict[str, float] | None, str]:
    """The editor value to (the top 3 for a ``gr.Label``, an error text): (None, "") for an empty canvas."""
    image = drawing_to_base64(value)
    if image is None:
        return None, ""
    row = model.predict(pd.DataFrame({"image": [image]})).iloc[0]
    if row["error"]:
        return None, f"**Error:** {row['error']}"
    return top3_label(row["top3"]), ""


def launch(model: Any, description: str, host: str, port: int) -> None:
    """Serve the page for ``model`` (an MLflow pyfunc model) at ``http://host:port`` until interrupted; the title is
    ``description``."""
    with gr.Blocks(title=description, analytics_enabled=False) as page:
        gr.Markdown(f"## Write one character\n{description}")
        with gr.Row():
            pad = gr.Sketchpad(BLANK, sources=(), type="pil", format="png", canvas_size=(CANVAS, CANVAS), fixed_canvas=True, layers=False,
                               transforms=(), buttons=[], label="Your character", elem_id="pad", height=CANVAS + 100,
                               brush=gr.Brush(default_size=BRUSH_RADIUS, colors=["#000000"], color_mode="fixed"))
            with gr.Column():
                top3 = gr.Label(num_top_classes=3, label="Top 3", elem_id="top3")
                error = gr.Markdown(elem_id="error")
                clear = gr.Button("Clear")
        # On each stroke (Gradio 6 sends the sketchpad's strokes as input events, not change). always_last: strokes drawn
        # while the CPU predicts make one more request, not one each.
        predicting = pad.input(lambda value: answer(model, value), pad, [top3, error], trigger_mode="always_last",
                               show_progress="hidden")
        # The button and the sketchpad's own bin: back to the paper, brush in hand. cancels: an answer still on its way
        # must not come back onto the emptied page.
        for emptied in (clear.click, pad.clear):
            emptied(lambda: (BLANK, None, ""), None, [pad, top3, error], cancels=[predicting], show_progress="hidden")
    page.launch(server_name=host, server_port=port, share=False, ssr_mode=False, mcp_server=False, pwa=False,
                run_history=False, enable_monitoring=False, footer_links=[], inbrowser=False)
