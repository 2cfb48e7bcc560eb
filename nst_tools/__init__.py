"""nst_tools: everything around the course's core (nst_utils.py), one module per concern.

Import the module you need: ``from nst_tools import course``, ``from nst_tools.lab_panel import lab``.
"""
