"""SAM to plain CloudFormation, offline: samtranslator without IAM calls or code uploads.

moto's CloudFormation does not run the ``AWS::Serverless`` transform, so the template
is translated here first. samtranslator would list AWS managed policies through IAM and
refuses local code paths; ``LocalManagedPolicyLoader`` and placeholder S3 locations
stand in for both, so translating never needs AWS credentials or a network.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from flowless.localcloud._provisioned import ProvisionError

__all__ = ["LocalManagedPolicyLoader", "translate"]

#: Stand-in for local ``CodeUri``/``ContentUri`` paths, which samtranslator refuses (only
#: ``sam build``/``sam package`` turn them into S3 locations). Never created or read.
_PLACEHOLDER_CODE_BUCKET = "flowless-local-code-placeholder"


class LocalManagedPolicyLoader:
    """samtranslator's managed-policy loader, offline.

    samtranslator asks for the name -> ARN map of AWS managed policies only when a
    function's ``Policies`` names one; its own loader lists them through IAM. This one
    answers from a fixed map (the policies a SAM template is likely to name) and never
    calls AWS; ``partition`` picks the ARN prefix.
    """

    POLICIES = (
        "AWSLambdaBasicExecutionRole",
        "AWSLambdaVPCAccessExecutionRole",
        "AWSXRayDaemonWriteAccess",
        "AWSLambdaRole",
    )
    _PATHS: Mapping[str, str] = MappingProxyType(
        {
            "AWSLambdaBasicExecutionRole": "service-role/",
            "AWSLambdaVPCAccessExecutionRole": "service-role/",
            "AWSLambdaRole": "service-role/",
        }
    )

    def __init__(self, partition: str = "aws") -> None:
        self.partition = partition

    def load(self) -> dict[str, str]:
        return {
            name: f"arn:{self.partition}:iam::aws:policy/{self._PATHS.get(name, '')}{name}"
            for name in self.POLICIES
        }


def _with_placeholder_code(template: dict[str, Any]) -> dict[str, Any]:
    template = copy.deepcopy(template)
    for logical_id, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        kind = resource.get("Type")
        if kind == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
            props["CodeUri"] = {"Bucket": _PLACEHOLDER_CODE_BUCKET, "Key": f"{logical_id}.zip"}
        elif kind == "AWS::Serverless::LayerVersion" and isinstance(props.get("ContentUri"), str):
            props["ContentUri"] = {"Bucket": _PLACEHOLDER_CODE_BUCKET, "Key": f"{logical_id}.zip"}
    return template


def translate(
    template: Mapping[str, Any], region: str, parameters: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The SAM template as plain CloudFormation, translated offline by samtranslator.

    Local code paths become placeholder S3 locations (the code is not deployed here).
    """
    import boto3
    from samtranslator.metrics.metrics import (  # type: ignore[import-untyped]
        DummyMetricsPublisher,
        Metrics,
    )
    from samtranslator.model.exceptions import InvalidDocumentException  # type: ignore[import-untyped]
    from samtranslator.parser.parser import Parser  # type: ignore[import-untyped]
    from samtranslator.translator.arn_generator import ArnGenerator  # type: ignore[import-untyped]
    from samtranslator.translator.translator import Translator  # type: ignore[import-untyped]

    partition = ArnGenerator.get_partition_name(region)
    loader = LocalManagedPolicyLoader(partition)
    # A session only tells samtranslator the region; it makes no call with it.
    session = boto3.Session(region_name=region)
    metrics = Metrics("ServerlessTransform", DummyMetricsPublisher())  # nothing is sent
    translator = Translator(None, Parser(), boto_session=session, metrics=metrics)
    try:
        translated: dict[str, Any] = translator.translate(
            _with_placeholder_code(dict(template)),
            parameter_values=dict(parameters or {}),
            get_managed_policy_map=loader.load,
        )
    except InvalidDocumentException as exc:
        causes = "; ".join(cause.message for cause in exc.causes)
        raise ProvisionError(f"samtranslator rejected the template: {causes}") from exc
    finally:
        metrics.publish()  # to the dummy publisher: drops them, and keeps __del__ quiet
    return translated
