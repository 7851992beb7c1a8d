"""This repository's own stack: ``template.yaml`` with ``handlers/`` and ``examples/`` as
the functions' code, bound to the generic local-cloud tooling in ``flowless.localcloud``
(which ``flowless local`` uses for a user's project). Never imported by the Lambda
handlers or the SDK's runtime.
"""
