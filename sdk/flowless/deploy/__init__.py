"""Build-time code: flowless.yaml, the manifest, the SAM template.

Never imported by the engine or the Lambda handlers.
"""
