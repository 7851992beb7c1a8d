"""Deploy-time and local-cloud code: template reading, provisioning, the local cloud.

Never imported by the Lambda handlers or the SDK's runtime (chalice's rule: the runtime
does not import deploy code).
"""
