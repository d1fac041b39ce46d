"""The hand-written ResNet page's heavy work: the check that the same code without its shortcuts is the plain net
(two nets built and run on two random images), in the server's queue."""

from __future__ import annotations

from resnet_viz.inspect import resnet_code
from ui.work import heavy


def plain_check(n: int, option: str) -> resnet_code.PlainCheck:
    """``resnet_code.plain_check`` in its turn."""
    return heavy(("resnet_code", "plain", n, option), lambda: resnet_code.plain_check(n, option))
