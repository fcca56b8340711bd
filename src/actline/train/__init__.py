"""Training: a config dataclass, thermal augmentation, a plain loop (DDP-ready), and the run driver."""
