"""The run UI (``flowless ui``) and the run report (``flowless flow-run report``).

An optional extra (``pip install 'flowless[ui]'``: Jinja2 and markdown-it-py): nothing
here is imported by ``import flowless``, the engine or the Lambda handlers.
"""

from __future__ import annotations

from flowless.ui._pages import Pages, report_html
from flowless.ui._server import make_server

__all__ = ["Pages", "make_server", "report_html"]
