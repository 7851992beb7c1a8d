"""The functions as ``sam deploy`` would create them, read back from the template.

moto never creates them (the local cloud runs the handlers itself), so their names,
handlers, limits, environment and asynchronous-invoke settings are resolved from the
translated template against the created stack, for the local Lambda endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from flowless.localcloud._provisioned import ProvisionedFunction, ProvisionError
from flowless.localcloud._stack_resolver import Resolver

__all__ = ["read_functions"]


def _event_invoke_configs(translated: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """``AWS::Lambda::EventInvokeConfig`` properties by the logical id of their function."""
    configs: dict[str, Mapping[str, Any]] = {}
    for res in translated["Resources"].values():
        if res["Type"] != "AWS::Lambda::EventInvokeConfig":
            continue
        props = res.get("Properties", {})
        function = props.get("FunctionName")
        if isinstance(function, dict) and set(function) == {"Ref"}:
            configs[str(function["Ref"])] = props
    return configs


def read_functions(
    translated: Mapping[str, Any], resolver: Resolver
) -> dict[str, ProvisionedFunction]:
    functions = {}
    invoke_configs = _event_invoke_configs(translated)
    for lid, res in translated["Resources"].items():
        if res["Type"] != "AWS::Lambda::Function":
            continue
        props = res["Properties"]
        if "FunctionName" not in props:
            raise ProvisionError(
                f"{lid} has no FunctionName; the local cloud needs fixed function names."
            )
        variables = props.get("Environment", {}).get("Variables", {})
        invoke = invoke_configs.get(lid, {})
        retries = invoke.get("MaximumRetryAttempts")
        on_failure = invoke.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        functions[lid] = ProvisionedFunction(
            logical_id=lid,
            name=str(resolver.value(props["FunctionName"])),
            handler=str(resolver.value(props["Handler"])),
            timeout=int(resolver.value(props.get("Timeout", 3))),
            memory_size=int(resolver.value(props.get("MemorySize", 128))),
            environment=MappingProxyType(
                {name: str(resolver.value(value)) for name, value in variables.items()}
            ),
            maximum_retry_attempts=int(resolver.value(retries)) if retries is not None else None,
            on_failure=str(resolver.value(on_failure)) if on_failure is not None else None,
        )
    return functions
