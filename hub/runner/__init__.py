"""Running exchanges: :class:`Runner` plans and applies one compiled mapping."""

from hub.runner.engine import Runner
from hub.runner.report import Change, RunReport, Sample

__all__ = ["Change", "RunReport", "Runner", "Sample"]
