"""Lightning training code: the module and its callbacks (no data or CLI code here)."""
from privib.training.module import VIBModule

__all__ = ["VIBModule"]
