"""Shared test settings: one torch thread (tiny models run fastest so, and CI machines have 2 cores)."""

import torch

torch.set_num_threads(1)
