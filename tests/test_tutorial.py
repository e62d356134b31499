"""Execute docs/tutorial.ipynb and compare its outputs with the stored ones."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from PIL import Image

NOTEBOOK = Path(__file__).parents[1] / "docs" / "tutorial.ipynb"


def text_outputs(cell: nbformat.NotebookNode) -> list[str]:
    texts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            texts.append(output["text"])
        elif "data" in output:
            data = output["data"]
            texts.append(data.get("text/html") or data.get("text/plain", ""))
    return texts


def image_sizes(cell: nbformat.NotebookNode) -> list[tuple[int, int]]:
    sizes = []
    for output in cell.get("outputs", []):
        png = output.get("data", {}).get("image/png")
        if png:
            with Image.open(io.BytesIO(base64.b64decode(png))) as image:
                sizes.append(image.size)
    return sizes


@pytest.mark.slow
def test_tutorial_executes_and_matches_stored_outputs():
    stored = nbformat.read(NOTEBOOK, as_version=4)
    fresh = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        fresh,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    ).execute()
    code_cells = [c for c in stored.cells if c.cell_type == "code"]
    assert len(code_cells) > 20
    for old, new in zip(stored.cells, fresh.cells, strict=True):
        if old.cell_type != "code":
            continue
        errors = [o for o in new.outputs if o["output_type"] == "error"]
        assert errors == [], old.source
        assert text_outputs(new) == text_outputs(old), old.source
        assert image_sizes(new) == image_sizes(old), old.source


def test_tutorial_stored_outputs_have_figures():
    stored = nbformat.read(NOTEBOOK, as_version=4)
    figures = sum(len(image_sizes(c)) for c in stored.cells if c.cell_type == "code")
    assert figures >= 6
