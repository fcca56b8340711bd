"""Averaged predictions of several members (``--seeds K``), as one module and one weights file."""

from __future__ import annotations

import torch
import torch.nn as nn

from actline.models.registry import register


class Ensemble(nn.Module):
    """Returns the log of the members' mean probabilities: softmax of it is the averaged prediction."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x):
        probs = torch.stack([torch.softmax(m(x), dim=1) for m in self.members]).mean(dim=0)
        return torch.log(probs.clamp_min(1e-12))


@register(kind="ensemble")
def ensemble(num_classes: int, in_chans: int = 1, member: dict | None = None, n: int = 2) -> nn.Module:
    from actline.models.registry import create_model

    member = dict(member or {})
    name = member.pop("name")
    member.pop("num_classes", None)
    member.pop("in_chans", None)
    member.pop("weights", None)
    return Ensemble([create_model(name, num_classes=num_classes, in_chans=in_chans, **member) for _ in range(n)])
