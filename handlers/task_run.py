"""The repo's own stack names its handlers by file (template.yaml: ``task_run.handler``);
the handler itself ships in the SDK (``flowless.lambda_handlers``), where a user's
generated stack names it from the layer."""

from flowless.lambda_handlers.task_run import handler

__all__ = ["handler"]
