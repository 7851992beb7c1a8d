"""``prefect.utilities.annotations`` under its Prefect path, so imports of it keep working.

Prefect 3.4.25 has no other public annotation (``opaque`` came in a later Prefect).
"""

from flowless._annotations import (
    BaseAnnotation,
    NotSet,
    Quote,
    allow_failure,
    freeze,
    quote,
    unmapped,
)

__all__ = [
    "BaseAnnotation",
    "NotSet",
    "Quote",
    "allow_failure",
    "freeze",
    "quote",
    "unmapped",
]
