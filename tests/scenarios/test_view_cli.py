"""`swarm view DIR`: opens a run's viewer.html, or prints its path; bad input is one line."""

import webbrowser

import pytest

from scenarios.cli import main


@pytest.fixture
def run_dir(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "viewer.html").write_text("<html></html>")
    return out


def test_view_prints_the_path_without_a_browser(run_dir, capsys, monkeypatch):
    opened = []
    monkeypatch.setattr(webbrowser, "open", lambda uri: opened.append(uri) or False)
    monkeypatch.setenv("DISPLAY", ":0")
    assert main(["view", str(run_dir)]) == 0
    assert opened == [(run_dir / "viewer.html").resolve().as_uri()]
    assert capsys.readouterr().out.strip() == str((run_dir / "viewer.html").resolve())


def test_view_opens_the_browser(run_dir, capsys, monkeypatch):
    opened = []
    monkeypatch.setattr(webbrowser, "open", lambda uri: opened.append(uri) or True)
    monkeypatch.setenv("DISPLAY", ":0")
    assert main(["view", str(run_dir)]) == 0
    assert len(opened) == 1 and opened[0].endswith("/run/viewer.html")
    assert capsys.readouterr().out.startswith("opened ")


def test_view_print_flag_and_headless_open_nothing(run_dir, capsys, monkeypatch):
    monkeypatch.setattr(webbrowser, "open", lambda uri: pytest.fail("opened a browser"))
    assert main(["view", str(run_dir), "--print"]) == 0
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert main(["view", str(run_dir)]) == 0
    path = str((run_dir / "viewer.html").resolve())
    assert capsys.readouterr().out.split() == [path, path]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing", "view: no such folder: "),
        (lambda p: p, "view: no viewer.html in "),
    ],
)
def test_view_bad_input_is_one_line(tmp_path, capsys, make, message):
    assert main(["view", str(make(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"swarm: error: {message}") and err.count("\n") == 1
