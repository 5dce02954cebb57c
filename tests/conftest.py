"""Test-suite settings.

Tests train tiny nets (p ≤ 31) where thread start-up dominates: one intra-op
thread is both faster and less sensitive to a loaded machine.
"""

import torch

torch.set_num_threads(1)
