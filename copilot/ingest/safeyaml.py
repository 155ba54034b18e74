"""YAML from users (charters, front matter) without aliases: a few hundred bytes of nested anchors and
aliases (the "billion laughs") would otherwise expand into gigabytes before anything could check its size.
A charter never needs an alias, so any alias is refused, while it is being composed, before expansion."""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError


class AliasRefused(ComposerError):
    """The YAML uses an alias (`*name` or a `<<: *name` merge)."""


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that stops at the first alias event."""

    def compose_node(self, parent: Any, index: Any) -> Any:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise AliasRefused(None, None, f"YAML aliases are not accepted (found *{event.anchor}); write the value "
                                           "out in full", event.start_mark)
        return super().compose_node(parent, index)


def load(text: str) -> Any:
    """`yaml.safe_load` without aliases; AliasRefused (a yaml.YAMLError) names the first one."""
    return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
