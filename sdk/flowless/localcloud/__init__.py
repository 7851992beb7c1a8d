"""The local cloud: a SAM template's stack on 127.0.0.1 (moto's server, a local Lambda
that runs the real handlers, a ticker that fires the EventBridge schedules). Behind
``flowless local`` and ``make local``; needs ``pip install 'flowless[local]'``. Never
imported by the engine or the Lambda handlers, and left out of the layer.
"""
