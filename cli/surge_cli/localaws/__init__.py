"""Local AWS execution harness (test/replay support, never shipped to Lambda).

Real ASL runs inside moto 5.2.5's Step Functions interpreter, Lambda tasks call Python handlers
in-process, and Wait/Retry run on a discrete-event simulated clock. See :mod:`.harness`,
:mod:`.clock` and :mod:`.seams` (every moto internal patched, and :func:`check_seams`).
"""

from .clock import HarnessStalledError, SimClock, Timer
from .harness import HarnessError, Invocation, LambdaContext, LambdaSpec, LocalAws, Periodic
from .seams import MOTO_VERSION, SeamMovedError, check_seams

__all__ = [
    "MOTO_VERSION",
    "HarnessError",
    "HarnessStalledError",
    "Invocation",
    "LambdaContext",
    "LambdaSpec",
    "LocalAws",
    "Periodic",
    "SeamMovedError",
    "SimClock",
    "Timer",
    "check_seams",
]
