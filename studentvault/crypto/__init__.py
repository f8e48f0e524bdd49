"""Encryption at rest: master key providers, per-category keysets, encrypted fields, blind
indexes, key rotation, the SQLCipher database backend and encrypted backups.

The crypto layer sits just above core: it may import core and Django, never audit, records or
anything higher. It reports what it does through ``studentvault.core.events.emit``.
"""
