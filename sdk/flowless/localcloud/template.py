"""Reading ``template.yaml``: the one place the table's schema is written.

CloudFormation's short-form tags (``!Ref``, ``!GetAtt``, ``!Sub`` ...) are read as plain
``{"Ref": ...}``-style mappings, so the file parses without any AWS tooling.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["load_template", "table_definition", "ttl_attribute"]


class _Loader(yaml.SafeLoader):
    pass


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_Loader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path) -> dict[str, Any]:
    with open(path) as fh:
        template: dict[str, Any] = yaml.load(fh, Loader=_Loader)
    return template


def table_definition(table_name: str, path: Path) -> dict[str, Any]:
    """``create_table`` arguments for the state table, from the template's resource."""
    props = load_template(path)["Resources"]["StateTable"]["Properties"]
    definition: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props["BillingMode"],
    }
    if props.get("GlobalSecondaryIndexes"):
        definition["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    return definition


def ttl_attribute(path: Path) -> str:
    props = load_template(path)["Resources"]["StateTable"]["Properties"]
    return str(props["TimeToLiveSpecification"]["AttributeName"])
