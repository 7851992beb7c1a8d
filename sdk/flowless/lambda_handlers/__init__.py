"""The Lambda entry points (``flowless.lambda_handlers.flow_run.handler``,
``flowless.lambda_handlers.task_run.handler``), shipped in the stack's layer.

Only a Lambda function imports these (they need AWS Lambda Powertools); ``import
flowless`` never does. They import the engine and deployments, never build code.
"""
