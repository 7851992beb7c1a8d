"""The run UI's pages made from real runs on the embedded store, without a browser: what
each page says, what it refuses (with the message a person sees), and that nothing a run
stored can become script on the page. The browser tests (tests/ui) look at the same pages
in Chromium."""

from __future__ import annotations

import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from flowless import flow, get_run_logger, task
from flowless.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from flowless.cache_policies import INPUTS
from flowless.cli import main as cli
from flowless.cli._stores import open_run_store
from flowless.engine import current_runtime
from flowless.settings import current_settings
from flowless.states import StateType
from flowless.store import FlowRunRecord
from flowless.ui import Pages, report_html
from flowless.ui._server import serving

EVIL = "<script>window.pwned=1</script><img src=x onerror=alert(1)>"


@task(retries=2, retry_delay_seconds=0.05)
def fails(x: int) -> int:
    raise ValueError(f"bad {x} {EVIL}")


@task(cache_policy=INPUTS)
def cached(x: int) -> int:
    return x * 10


@task
def add(x: int, y: int) -> int:
    get_run_logger().info("adding %s and %s %s", x, y, EVIL)
    return x + y


@flow(flow_run_name="child-run")
def child(x: int) -> int:
    return add(x, 1)


@flow(flow_run_name="parent-run")
def parent(x: int) -> int:
    progress = create_progress_artifact(0, key="progress")
    create_markdown_artifact(
        f"# Summary\n\n[click](javascript:alert(1)) and [docs](https://example.com)\n\n{EVIL}",
        key="summary",
    )
    create_table_artifact([{"name": EVIL, "n": 1}, {"name": "b", "n": 2}], key="table")
    create_link_artifact("https://example.com/run", "the run")
    update_progress_artifact(progress, 100)
    return child(x) + cached(x) + add(x, 2)


@flow(flow_run_name="failing-run")
def failing() -> int:
    return fails(1)


@flow(flow_run_name="cached-run")
def twice() -> int:
    return cached(3) + cached(3)


@pytest.fixture
def pages(flowless_home: Path) -> Iterator[Pages]:
    parent(1)
    failing(return_state=True)
    twice()
    current_runtime().store.flush()
    opened = open_run_store(current_settings())
    assert opened is not None
    pages = Pages(opened)
    yield pages
    pages.close()


class _Tags(HTMLParser):
    """Every start tag of a page, with its attributes."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        """The ``tag`` elements with these attributes (``class``: one of its classes)."""

        def has(found: dict[str, str | None], name: str, value: str) -> bool:
            actual = found.get(name) or ""
            return value in actual.split() if name == "class" else actual == value

        return [a for t, a in self.tags if t == tag and all(has(a, k, v) for k, v in attrs.items())]


def _no_script(html: str) -> None:
    tags = _Tags(html)
    assert not [t for t, _ in tags.tags if t in ("script", "iframe", "object", "embed")]
    handlers = [a for _, attrs in tags.tags for a in attrs if a.startswith("on")]
    assert handlers == []
    links = [a.get("href") or "" for _, a in tags.tags]
    assert not [link for link in links if link.lower().startswith("javascript")]
    assert "window.pwned" not in re.sub(r"&lt;script&gt;window\.pwned=1&lt;/script&gt;", "", html)


def _run_id(pages: Pages, name: str) -> str:
    return next(
        r.id
        for r in pages.store.list_flow_runs(100)
        if isinstance(r, FlowRunRecord) and r.name == name
    )


def test_runs_list_shows_every_run_and_filters_by_state_and_flow(pages: Pages) -> None:
    status, html = pages.get("/")
    assert status == 200
    rows = _Tags(html).find("tr", **{"class": "run"})
    assert len(rows) == 4
    assert sorted(r["data-state"] or "" for r in rows) == [
        "COMPLETED",
        "COMPLETED",
        "COMPLETED",
        "FAILED",
    ]
    for name in ("parent-run", "child-run", "failing-run", "cached-run"):
        assert f">{name}</a>" in html
    assert 'http-equiv="refresh"' not in html  # nothing is running
    status, failed = pages.get("/", "state=failed")
    assert status == 200
    assert [r["data-state"] for r in _Tags(failed).find("tr", **{"class": "run"})] == ["FAILED"]
    status, by_flow = pages.get("/", "flow=child")
    assert ">child-run</a>" in by_flow and ">parent-run</a>" not in by_flow
    status, one = pages.get("/", "limit=1")
    assert len(_Tags(one).find("tr", **{"class": "run"})) == 1
    assert "Show 2" in one  # the way to the rest
    _, all_four = pages.get("/", "limit=4")
    assert 'id="more"' not in all_four  # there is no rest


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("state=done", "Unknown state &#39;done&#39;: use one of SCHEDULED"),
        ("limit=many", "limit must be a whole number of runs, not &#39;many&#39;."),
        ("limit=0", "limit must be between 1 and 10000, not 0."),
    ],
)
def test_a_bad_filter_says_what_is_wrong(pages: Pages, query: str, message: str) -> None:
    status, html = pages.get("/", query)
    assert status == 400
    assert message in html


def test_run_page_shows_parameters_timeline_tasks_artifacts_and_logs(pages: Pages) -> None:
    status, html = pages.get(f"/runs/{_run_id(pages, 'parent-run')}")
    assert status == 200
    tags = _Tags(html)
    assert 'id="run-state">Completed<' in html
    assert "&#34;x&#34;: 1" in html  # parameters, as JSON (quotes escaped)
    rows = tags.find("div", **{"class": "tl-row"})
    assert [r["data-kind"] for r in rows] == ["subflow", "completed", "completed"]
    tasks = tags.find("tr", **{"class": "task"})
    assert len(tasks) == 3
    subflow_bar = tags.find("a", **{"class": "bar", "data-kind": "subflow"})
    assert subflow_bar[0]["href"] == f"/runs/{_run_id(pages, 'child-run')}"
    task_bar = tags.find("a", **{"class": "bar", "data-kind": "completed"})[0]
    assert re.fullmatch(r"/runs/[0-9a-f-]+/tasks/[0-9a-f-]+", task_bar["href"] or "")
    artifacts = tags.find("div", **{"class": "artifact"})
    assert [a["data-type"] for a in artifacts] == ["progress", "markdown", "table", "markdown"]
    assert "<h1>Summary</h1>" in html
    assert '<a href="https://example.com">docs</a>' in html
    assert "[click](javascript:alert(1))" in html  # shown as text, not a link
    assert 'style="width: 100.00%"' in html  # the progress bar, moved to 100
    assert "<td>b</td>" in html and "<td>2</td>" in html  # the table's cells
    assert "Beginning flow run &#39;parent-run&#39; for flow &#39;parent&#39;" in html
    assert "adding 1 and 2 &lt;script&gt;" in html  # the task's own line, escaped
    assert len(tags.find("tr", **{"class": "line"})) >= 5
    _no_script(html)


def test_failed_run_shows_its_retries_and_the_task_page_its_traceback(pages: Pages) -> None:
    run_id = _run_id(pages, "failing-run")
    status, html = pages.get(f"/runs/{run_id}")
    assert 'id="run-state">Failed<' in html
    tags = _Tags(html)
    kinds = [b["data-kind"] for b in tags.find("a", **{"class": "bar"})]
    assert kinds == ["attempt", "retry-wait", "attempt", "retry-wait", "failed"]
    href = tags.find("a", **{"class": "bar"})[0]["href"] or ""
    status, task_html = pages.get(href)
    assert status == 200
    assert "Traceback (most recent call last)" in task_html
    assert "raise ValueError(f&#34;bad {x} {EVIL}&#34;)" in task_html
    assert "Retry 2/2 will start 0.05 second(s) from now" in task_html
    assert ">3</dd>" in task_html  # attempts
    _no_script(html)
    _no_script(task_html)


def test_cached_run_shows_cache_hits(pages: Pages) -> None:
    status, html = pages.get(f"/runs/{_run_id(pages, 'cached-run')}")
    assert status == 200
    tags = _Tags(html)
    assert [r["data-kind"] for r in tags.find("div", **{"class": "tl-row"})] == [
        "completed",
        "cached",
    ]
    assert html.count("<td>hit</td>") == 1
    assert html.count("<td>miss</td>") == 1


def test_unknown_pages_say_what_is_missing(pages: Pages) -> None:
    status, html = pages.get("/runs/no-such-run")
    assert status == 404
    assert "No flow run with id, id prefix or name &#39;no-such-run&#39;" in html
    run_id = _run_id(pages, "parent-run")
    status, html = pages.get(f"/runs/{run_id}/tasks/nope")
    assert status == 404
    assert f"Flow run &#39;parent-run&#39; ({run_id}) has no task run &#39;nope&#39;." in html
    assert "<h1>No such task run</h1>" in html
    status, html = pages.get("/settings")
    assert status == 404
    assert "There is no page at &#39;/settings&#39;." in html


def test_a_running_run_refreshes_itself(pages: Pages) -> None:
    store = pages.store
    run = store.read_flow_run(_run_id(pages, "cached-run"))
    writable = current_runtime().store
    running = FlowRunRecord(
        id="live-run-id",
        name="live-run",
        flow_name="twice",
        state_type=StateType.RUNNING,
        state_name="Running",
        created=time.time(),
        start_time=time.time(),
    )
    writable.create_flow_run(running)
    writable.flush()
    assert run.state_type is StateType.COMPLETED
    _, html = pages.get("/runs/live-run")
    assert '<meta http-equiv="refresh" content="2">' in html
    assert "(running)" in html
    _, listed = pages.get("/")  # the list does not reload: it would empty the flow box
    assert ">live-run</a>" in listed and 'http-equiv="refresh"' not in listed
    _, done = pages.get(f"/runs/{run.id}")
    assert 'http-equiv="refresh"' not in done


def test_report_is_one_file_with_no_script_and_every_task(pages: Pages) -> None:
    html = report_html(pages.store, pages.results, "failing-run")
    tags = _Tags(html)
    assert not [t for t, a in tags.tags if t == "link" or (t == "img" and a.get("src"))]
    assert 'http-equiv="refresh"' not in html
    bars = tags.find("a", **{"class": "bar"})
    task_id = bars[0]["href"]
    assert task_id and task_id.startswith("#task-")
    assert tags.find("section", id=task_id[1:])  # the bar opens the task's own section
    assert "Traceback (most recent call last)" in html
    _no_script(html)


def test_report_command_writes_the_file_and_refuses_an_unknown_run(
    pages: Pages, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "run.html"
    assert cli(["flow-run", "report", "parent-run", "-o", str(target)]) == 0
    assert f"Wrote {target} (" in capsys.readouterr().out
    assert "<h1>Summary</h1>" in target.read_text()
    assert cli(["flow-run", "report", "nobody", "-o", str(tmp_path / "x.html")]) == 1
    assert "No flow run with id, id prefix or name 'nobody'" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()
    assert cli(["flow-run", "report", "parent-run", "-o", str(tmp_path / "no" / "x.html")]) == 1
    assert "Cannot write the report to" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flowless-home", "run.html"]


def test_the_ui_and_report_say_how_to_get_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "jinja2", None)
    assert cli(["ui", "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert "The run UI and reports need the 'ui' extra" in err
    assert "pip install 'flowless[ui]'" in err


def test_the_ui_before_anything_ran_waits_for_the_first_run(flowless_home: Path) -> None:
    settings = current_settings()
    pages = Pages(open_run_store(settings), lambda: open_run_store(settings), "the-home")
    status, html = pages.get("/")
    assert status == 200
    assert "Nothing has run here yet: no runs in the-home." in html
    assert '<meta http-equiv="refresh" content="2">' in html  # until there is a run
    child(1)
    current_runtime().store.flush()
    status, html = pages.get("/")
    assert ">child-run</a>" in html
    pages.close()


def test_the_server_answers_on_loopback_with_a_strict_policy(pages: Pages) -> None:
    with serving(pages) as base:
        with urllib.request.urlopen(f"{base}/?state=failed") as answer:
            assert answer.status == 200
            policy = answer.headers["Content-Security-Policy"]
            assert "default-src 'none'" in policy
            assert "script-src" not in policy  # none at all: default-src 'none'
            assert ">failing-run</a>" in answer.read().decode()
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{base}/runs/nobody")
        assert missing.value.code == 404
        request = urllib.request.Request(f"{base}/", method="POST", data=b"x")
        with pytest.raises(urllib.error.HTTPError) as post:
            urllib.request.urlopen(request)
        assert post.value.code == 501  # read-only


@flow(flow_run_name="my run/1")
def spaced() -> None:
    create_markdown_artifact("half a pair: \ud800 ![pixel](https://example.invalid/p.png)")


def test_odd_names_and_a_lone_surrogate_still_make_pages_and_reports(
    pages: Pages, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spaced()
    current_runtime().store.flush()
    status, html = pages.get("/runs/my%20run%2F1")  # as a browser asks for it
    assert status == 200, html
    assert ">my run/1 <span" in html
    with serving(pages) as base, urllib.request.urlopen(f"{base}/runs/my%20run%2F1") as answer:
        assert "half a pair: \\ud800" in answer.read().decode()  # its escape, not a drop
    target = tmp_path / "odd.html"
    assert cli(["flow-run", "report", "my run/1", "-o", str(target)]) == 0
    report = target.read_text()
    assert "half a pair: \\ud800" in report
    # Nothing in a report loads from anywhere, a markdown image included.
    assert "img-src data:;" in report and 'src="https://example.invalid/p.png"' in report
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flowless-home", "odd.html"]


def test_a_page_answers_only_requests_addressed_to_loopback(pages: Pages) -> None:
    """DNS rebinding: a page elsewhere pointing its name at 127.0.0.1 gets nothing."""
    with serving(pages) as base:
        port = base.rsplit(":", 1)[1]
        for host, status in (
            (f"127.0.0.1:{port}", 200),
            (f"localhost:{port}", 200),
            (f"evil.example:{port}", 421),
        ):
            request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Host": host})
            try:
                with urllib.request.urlopen(request) as answer:
                    got = answer.status
                    assert answer.headers["Referrer-Policy"] == "no-referrer"
            except urllib.error.HTTPError as exc:
                got = exc.code
            assert got == status, host


def test_a_long_log_shows_its_newest_lines_and_says_so(
    pages: Pages, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowless.ui import _view

    monkeypatch.setattr(_view, "MAX_LOG_LINES", 2)
    _, html = pages.get("/runs/parent-run")
    assert len(_Tags(html).find("tr", **{"class": "line"})) == 2
    assert "line(s) are not shown here: <code>flowless flow-run logs parent-run</code>" in html
    assert "Finished in state Completed()" in html  # the newest are the ones shown


def test_ui_command_line_mistakes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as bad:
        cli(["ui", "--port", "99999"])
    assert bad.value.code == 2
    assert "99999 is not a port number (0-65535; 0: any free)" in capsys.readouterr().err
    from flowless.ui._pages import runs_href

    assert runs_href(None, "100", 100) == "/?flow=100"  # a flow named like the default
