"""Rich-regime upper bounds (Prop 3.7, Thm 3.6/4.5/4.6, Lemma E.2, G.10-G.13)."""

__all__: list[str] = []
