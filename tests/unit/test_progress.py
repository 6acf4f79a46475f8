"""Progress bars: on stderr in a terminal, one per stage; nothing when output is piped (the default
decides from stdout and stderr)."""

from planner.progress import QUIET, Progress


def test_progress_bars_per_stage(capsys):
    p = Progress(True)
    p.stage("preparing the entities")
    p.stage("value of pooling: each entity alone", 4)
    for k in range(1, 5):
        p.count(k, 4)
    assert p._bar.n == 4 and p._bar.total == 4
    p.close()
    out = capsys.readouterr()
    assert out.out == ""
    assert "preparing the entities" in out.err and "value of pooling: each entity alone" in out.err


def test_quiet_when_not_a_terminal(capsys):
    p = Progress()  # pytest captures stdout: not a terminal
    assert not p.enabled
    p.stage("solving")
    p.count(1, 2)
    p.close()
    QUIET.stage("x")
    assert capsys.readouterr().err == ""
