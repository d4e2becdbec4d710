"""Hot paths in twins: ``*_py`` pure-Python references and their compiled ``*_c`` counterparts.

Callers never import from here directly: :mod:`papyra._accel` picks one twin of each, once.
"""
