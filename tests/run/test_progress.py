"""The live progress table: what a technician sees during a run."""

from __future__ import annotations

import io

from rich.console import Console

from harness.run.progress import HandsetProgress, ProgressSnapshot, render


def _text(rows: list[ProgressSnapshot]) -> str:
    console = Console(file=io.StringIO(), width=120, force_terminal=False)
    console.print(render(rows))
    return console.file.getvalue()


def test_rows_show_handset_step_counts_and_remaining_time():
    progress = HandsetProgress("127.0.0.1:40001", step_count=4, planned_seconds=100)
    progress.update(phase="steps", step_index=2, step="monkey", elapsed_planned=40)
    progress.counters = lambda: (12, 3, 250)
    text = _text([progress.snapshot()])
    assert "127.0.0.1:40001" in text
    assert "2/4 monkey" in text
    assert "~1:00" in text  # 100 planned - 40 done
    assert "12" in text and "250" in text


def test_finished_runs_show_their_status_instead_of_the_phase():
    done = ProgressSnapshot("virtual:vendor-1.1", phase="done", status="interrupted")
    assert "interrupted" in _text([done])
