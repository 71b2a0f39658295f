"""Shared pieces of documents: how a data source reads, and links from a document to the figures
of the same run. (Figures: ``analysis.figures``.)"""

from __future__ import annotations

import re
from typing import Any


def describe_source(source: dict[str, Any]) -> str:
    """``trainPart1.zip (sha256 ab12...)`` or ``synthetic demo (seed 0)``."""
    if source.get("kind") in ("zip", "mnist"):
        return f"{source['name']} (sha256 {source['sha256']})"
    return f"{source.get('kind', 'synthetic demo')} (seed {source.get('seed')}, generator v{source.get('generator_version')})"


# A Kedro run saves every versioned output under one version that nodes never see; a
# document writes this placeholder and MarkdownReportDataset fills in the run's version.
SAVE_VERSION = "{save_version}"


_ARTIFACT_LINK = "../../{name}/" + SAVE_VERSION + "/{name}"
_ARTIFACT_LINK_PATTERN = re.compile(r"\.\./\.\./([^/()]+)/" + re.escape(SAVE_VERSION) + r"/\1")  # the same, read back


def artifact_link(file_name: str) -> str:
    """The relative link from a versioned document to ``file_name``, a versioned output of the
    same run in the same folder: ``../../loss_graph.png/{save_version}/loss_graph.png``."""
    return _ARTIFACT_LINK.replace("{name}", file_name)


def flat_artifact_links(document: str) -> str:
    """``document`` with each :func:`artifact_link` replaced by the bare file name, for places
    (an MLflow run's artifacts) where the document and its figures sit side by side."""
    return _ARTIFACT_LINK_PATTERN.sub(r"\1", document)


def markdown(*blocks: str | list[str] | None) -> str:
    """A document of ``blocks`` (headings, paragraphs, figures; a list is the lines of one block, such as a
    table), a blank line between two and a newline at the end; a ``None`` block is left out."""
    return "\n\n".join("\n".join(block) if isinstance(block, list) else block for block in blocks if block is not None) + "\n"


def figure_markdown(caption: str, file_name: str) -> str:
    """A Markdown image of the same run's ``file_name`` (see :func:`artifact_link`)."""
    return f"![{caption}]({artifact_link(file_name)})"

