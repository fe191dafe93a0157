"""The weekly digest posted to Discord: its asset and its schedule (weekly_digest.py), self-contained.

Discovered by ``load_from_defs_folder`` like every other module under ``defs/``.
"""
