"""Kernel-regime lower bounds (Appendix D, Thm 3.4/4.3, Prop E.7)."""

__all__: list[str] = []
