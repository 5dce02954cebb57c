"""One documented function per theorem or lemma, named by its number.

Names: ``thm_X_Y_…``, ``prop_X_Y_…``, ``lemma_XY_…``, ``cor_XY_…`` after the paper's numbering;
public signatures take ``(p, n, h, …)`` in that order, ``h`` the hidden width (the paper's
notation).

``regimes.bounds.lower`` holds the kernel-regime bounds (Thm 3.4, 3.5,
4.3, D.1, D.2, Cor D.8, Lemmas D.4–D.10, Prop B.4's sufficient width, Prop E.7); ``regimes.bounds.upper``
the rich-regime upper bounds (Prop 3.7, Thm 3.6, 4.5, 4.6, Lemmas E.2, G.10–G.13).
Printed typos are fixed (the list is ``proofs/ERRATA.md``; the proof notes under
``proofs/`` give the details); each docstring says so.
"""

from regimes.bounds.lower import *  # noqa: F403
from regimes.bounds.upper import *  # noqa: F403
