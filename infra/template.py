"""Reading this repository's ``template.yaml``: the one place the table's schema is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowless.localcloud import template as _template

__all__ = ["TEMPLATE", "load_template", "table_definition", "ttl_attribute"]

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return _template.load_template(path)


def table_definition(table_name: str, path: Path = TEMPLATE) -> dict[str, Any]:
    """``create_table`` arguments for the state table, from the template's resource."""
    return _template.table_definition(table_name, path)


def ttl_attribute(path: Path = TEMPLATE) -> str:
    return _template.ttl_attribute(path)
