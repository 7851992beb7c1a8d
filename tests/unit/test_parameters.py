"""Parameter validation: the no-pydantic shortcut must never disagree with pydantic."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from flowless.engine._parameters import _conforms

ANNOTATIONS: list[Any] = [
    int,
    str,
    float,
    bool,
    type(None),
    list,
    dict,
    list[int],
    list[str],
    list[float],
    dict[str, int],
    dict[str, list[str]],
    list[list[int]],
    tuple[int, ...],
    int | None,
]

scalars = st.one_of(
    st.integers(),
    st.text(max_size=5),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.sampled_from(["3", "3.5", "true", "1e3"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=3), st.integers()), inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
    ),
    max_leaves=8,
)


@given(annotation=st.sampled_from(ANNOTATIONS), value=values)
def test_shortcut_agrees_with_pydantic(annotation: Any, value: Any) -> None:
    if _conforms(value, annotation):
        validated = TypeAdapter(annotation).validate_python(value)
        assert validated == value
        assert type(validated) is type(value)


def test_shortcut_is_taken_for_exact_types() -> None:
    assert _conforms(["a", "b"], list[str])
    assert _conforms({"a": [1]}, dict[str, list[int]])
    assert not _conforms(("a",), list[str])  # pydantic converts this: ask it
    assert not _conforms(True, int)  # pydantic turns True into 1
    assert not _conforms(3, float)  # ... and 3 into 3.0


def test_exact_arguments_do_not_import_pydantic(tmp_path: Any) -> None:
    script = (
        "import sys\n"
        "from flowless import flow\n"
        "@flow\n"
        "def show_stars(repos: list[str], limit: int = 3) -> int:\n"
        "    return len(repos) + limit\n"
        "assert show_stars(['a', 'b']) == 5\n"
        "assert 'pydantic' not in sys.modules, 'imported pydantic'\n"
        "assert show_stars(('a',), '4') == 5\n"
        "assert 'pydantic' in sys.modules\n"
    )
    env = {"FLOWLESS_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True)
