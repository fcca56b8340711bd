"""Augmentation made for thermal windows, applied to a batch [B, 1, T, H, W] in °C on the device."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from actline.train.config import AugmentConfig


def augment_batch(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    b, c, t, h, w = x.shape
    dev = x.device

    def u(lo, hi, n=b):
        return torch.rand(n, generator=gen, device="cpu").to(dev) * (hi - lo) + lo

    out = []
    lo, hi = cfg.crop_scale
    for i in range(b):
        xi = x[i]
        if hi < 1.0 or lo < 1.0:
            s = float(u(lo, hi, 1)) ** 0.5
            ch, cw = max(2, int(round(h * s))), max(2, int(round(w * s)))
            y0 = int(torch.randint(0, h - ch + 1, (1,), generator=gen))
            x0 = int(torch.randint(0, w - cw + 1, (1,), generator=gen))
            if (ch, cw) != (h, w):
                xi = F.interpolate(xi[:, :, y0:y0 + ch, x0:x0 + cw], size=(h, w), mode="bilinear", align_corners=False)
        if float(u(0, 1, 1)) < cfg.hflip:
            xi = xi.flip(-1)
        if float(u(0, 1, 1)) < cfg.vflip:
            xi = xi.flip(-2)
        out.append(xi)
    x = torch.stack(out)
    floor = x.mean(dim=(3, 4), keepdim=True)
    gain = u(*cfg.temp_gain).view(b, 1, 1, 1, 1)
    x = floor + (x - floor) * gain + u(-cfg.temp_offset_c, cfg.temp_offset_c).view(b, 1, 1, 1, 1)
    if cfg.noise_c > 0:
        sigma = u(0, cfg.noise_c).view(b, 1, 1, 1, 1)
        x = x + sigma * torch.randn(x.shape, generator=gen).to(dev)
    if cfg.room_spots > 0 or cfg.room_field_c > 0:
        x = x + new_room(b, h, w, cfg, gen).to(dev)[:, None, None]
    if cfg.erase_p > 0:
        for i in range(b):
            if float(u(0, 1, 1)) < cfg.erase_p:
                eh, ew = max(1, int(h * float(u(0.1, 0.3, 1)))), max(1, int(w * float(u(0.1, 0.3, 1))))
                y0 = int(torch.randint(0, h - eh + 1, (1,), generator=gen))
                x0 = int(torch.randint(0, w - ew + 1, (1,), generator=gen))
                x[i, :, :, y0:y0 + eh, x0:x0 + ew] = floor[i].expand(-1, -1, eh, ew)
    return x


def new_room(b: int, h: int, w: int, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """[B, H, W] °C to add to each window, still over its time: a room it was not trained in. Small hot objects
    (a lamp, a heater's edge: 2x2 to 3x4 pixels, 4-20 °C over the floor, softened by the optics) in
    ``cfg.room_spots`` of the windows, and a smooth field of amplitude ``cfg.room_field_c`` (a gradient and a
    bump) in every window."""
    out = torch.zeros(b, h, w)
    rand = lambda *s: torch.rand(s, generator=gen)  # noqa: E731
    if cfg.room_field_c > 0:
        yy = torch.linspace(-1, 1, h).view(1, h, 1)
        xx = torch.linspace(-1, 1, w).view(1, 1, w)
        gy, gx = (rand(b, 1, 1) * 2 - 1), (rand(b, 1, 1) * 2 - 1)
        cy, cx, r = rand(b, 1, 1) * 2 - 1, rand(b, 1, 1) * 2 - 1, 0.3 + 0.7 * rand(b, 1, 1)
        bump = torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / r ** 2) * (rand(b, 1, 1) * 2 - 1)
        out += cfg.room_field_c * (0.5 * (gy * yy + gx * xx) + bump)
    if cfg.room_spots > 0:
        for i in range(b):
            if float(rand(1)) >= cfg.room_spots:
                continue
            for _ in range(1 + int(rand(1) * 3)):
                sh, sw = 2 + int(rand(1) * 2), 2 + int(rand(1) * 3)
                y0, x0 = int(rand(1) * (h - sh)), int(rand(1) * (w - sw))
                out[i, y0:y0 + sh, x0:x0 + sw] += 4.0 + 16.0 * float(rand(1))
        out = out + F.avg_pool2d(F.pad(out[:, None], (1, 1, 1, 1), mode="replicate"), 3, stride=1)[:, 0] * 0.5
    return out
