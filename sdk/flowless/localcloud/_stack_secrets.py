"""A template's Secrets Manager secrets, created before the stack (the signing key).

moto 5.2.5's CloudFormation has no ``AWS::SecretsManager::Secret``: it skips the resource
and resolves a ``Ref`` to it to nothing. The roles and the functions' environment refer
to the secret, so it cannot be created afterwards like the Scheduler resources: it is
created first, through the Secrets Manager API, as CloudFormation would (a generated
value from ``GenerateSecretString``'s options, through ``GetRandomPassword``; named
``<logical id>-<12 random characters>`` unless the template names it), and each
``Ref`` to it becomes its ARN before the stack is created (``_moto_template.for_moto``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any

from flowless.localcloud._provisioned import ProvisionError

__all__ = ["SECRET_TYPE", "create_secrets"]

SECRET_TYPE = "AWS::SecretsManager::Secret"

#: ``GenerateSecretString`` options that are ``GetRandomPassword``'s parameters too.
_PASSWORD_OPTIONS = (
    "PasswordLength",
    "ExcludeCharacters",
    "ExcludeNumbers",
    "ExcludePunctuation",
    "ExcludeUppercase",
    "ExcludeLowercase",
    "IncludeSpace",
    "RequireEachIncludedType",
)


def _literal(lid: str, props: Mapping[str, Any], name: str) -> Any:
    value = props.get(name)
    if isinstance(value, (dict, list)):
        raise ProvisionError(
            f"{lid}.{name} must be a literal here: the secret is created before the stack."
        )
    return value


def create_secrets(client: Callable[[str], Any], resources: Mapping[str, Any]) -> dict[str, str]:
    """Create the template's secrets; their ARNs by logical id."""
    from botocore.exceptions import ClientError, ParamValidationError

    arns: dict[str, str] = {}
    for lid in sorted(lid for lid, res in resources.items() if res["Type"] == SECRET_TYPE):
        props: Mapping[str, Any] = resources[lid].get("Properties", {})
        name = _literal(lid, props, "Name") or f"{lid}-{secrets.token_hex(6)}"
        description = _literal(lid, props, "Description")
        generate = props.get("GenerateSecretString")
        try:
            if generate is not None:
                if {"SecretStringTemplate", "GenerateStringKey"} & set(generate):
                    raise ProvisionError(
                        f"{lid}: a JSON secret (SecretStringTemplate) is not made locally."
                    )
                options = {k: generate[k] for k in _PASSWORD_OPTIONS if k in generate}
                value = client("secretsmanager").get_random_password(**options)["RandomPassword"]
            else:
                value = _literal(lid, props, "SecretString")
                if not isinstance(value, str):
                    raise ProvisionError(
                        f"{lid} has neither GenerateSecretString nor SecretString."
                    )
            arguments = {"Name": name, "SecretString": value}
            if description:
                arguments["Description"] = str(description)
            arns[lid] = str(client("secretsmanager").create_secret(**arguments)["ARN"])
        except (ClientError, ParamValidationError) as exc:
            raise ProvisionError(f"Cannot create {lid} ({SECRET_TYPE}) in moto: {exc}") from exc
    return arns
