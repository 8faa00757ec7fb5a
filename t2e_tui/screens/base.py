"""What every explorer screen shares: worker failures become visible notices.

Worker.StateChanged does not bubble, so each screen forwards it to the app's one handler.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.worker import Worker


class ExplorerScreen(Screen):
    """A screen whose failed workers are reported by `T2EApp.report_worker`."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report = getattr(self.app, "report_worker", None)
        if report is not None:
            report(event)
