"""Every named setting of the suite's sources, declared once with where it comes from.

:mod:`regimes.settings.mohamadi` holds the central paper's App. A values and the named
readings of what it leaves open.
"""
