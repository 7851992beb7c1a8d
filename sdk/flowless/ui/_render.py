"""Pages as HTML: Jinja2 templates (autoescaped) and the filters they use.

Everything a run stored is the run's code's text, not ours: it is escaped where it is
shown (Jinja2's autoescape), markdown is rendered with raw HTML off (markdown-it-py's
CommonMark, whose link check refuses ``javascript:`` and other script URLs), and only
``http(s)`` images and links become live. Pages hold their CSS and need no script, so the
report is the run page saved whole.
"""

from __future__ import annotations

import json
import logging
import math
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from flowless.cli._table import duration, timestamp
from flowless.logging._console import stamp
from flowless.store import ArtifactRecord
from flowless.ui._timeline import KINDS

__all__ = ["render"]


@cache
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table")


def markdown(text: Any) -> Markup:
    return Markup(_markdown().render(str(text)))


def _table_rows(data: Any) -> tuple[list[str], list[list[Any]]]:
    """Prefect's three table shapes: a list of row dicts, a dict of columns, rows."""
    if isinstance(data, dict):
        headers = [str(k) for k in data]
        columns = [v if isinstance(v, list) else [v] for v in data.values()]
        height = max((len(c) for c in columns), default=0)
        rows = [[c[i] if i < len(c) else None for c in columns] for i in range(height)]
        return headers, rows
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        headers = list(dict.fromkeys(str(k) for row in data for k in row))
        return headers, [[row.get(h) for h in headers] for row in data]
    if isinstance(data, list):
        return [], [r if isinstance(r, list) else [r] for r in data]
    return [], [[data]]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, default=repr)


def table(data: Any) -> Markup:
    try:
        value = json.loads(data) if isinstance(data, str) else data
    except ValueError:
        return Markup("<pre>{}</pre>").format(data)
    headers, rows = _table_rows(value)
    head = "".join(str(Markup("<th>{}</th>").format(h)) for h in headers)
    body = "".join(
        "<tr>" + "".join(str(Markup("<td>{}</td>").format(_cell(c))) for c in row) + "</tr>"
        for row in rows
    )
    thead = f"<thead><tr>{head}</tr></thead>" if headers else ""
    return Markup(f'<table class="artifact-table">{thead}<tbody>{body}</tbody></table>')


def web_url(url: Any) -> str | None:
    """``url`` if it is an http(s) address (what an image or link may point at)."""
    text = str(url).strip()
    return text if urlsplit(text).scheme in ("http", "https") else None


def artifact_kind(artifact: ArtifactRecord) -> str:
    return artifact.type if artifact.type in ("markdown", "table", "progress", "image") else "other"


def progress(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return max(0.0, min(100.0, number)) if math.isfinite(number) else 0.0


def level(number: int) -> str:
    return logging.getLevelName(number) if isinstance(number, int) else str(number)


def clock(seconds: float | None) -> str:
    """A time of day with milliseconds, as the console printed it (the same function:
    ``datetime`` rounds microseconds, and could show a line a millisecond off)."""
    return "-" if seconds is None else stamp(seconds)


def utc_offset(seconds: float) -> str:
    """``UTC+01:00``: what the page's local times are (a report is read elsewhere)."""
    from datetime import datetime

    offset = datetime.fromtimestamp(seconds).astimezone().strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]}"


def state_class(state_type: Any) -> str:
    return str(getattr(state_type, "value", state_type)).lower()


def _contains_traceback(message: str) -> bool:
    return "Traceback (most recent call last)" in message


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("flowless.ui", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        markdown=markdown,
        table=table,
        web_url=web_url,
        progress=progress,
        level=level,
        clock=clock,
        timestamp=timestamp,
        state_class=state_class,
        utc_offset=utc_offset,
        artifact_kind=artifact_kind,
    )
    env.tests["contains_traceback"] = _contains_traceback
    env.globals.update(duration=duration, KINDS=KINDS)
    return env


def render(template: str, **context: Any) -> str:
    return _environment().get_template(template).render(**context)
