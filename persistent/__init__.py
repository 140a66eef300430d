"""A persistent implementation of nim-codex's Reservations module on LevelDB, judged by the oracle.

It is *not* part of the model: it is a real system (a LevelDB store through ``plyvel``, an asyncio
service with nim-codex's lock and rollback steps, an HTTP front) that the oracle tests in lockstep,
under injected write faults and crashes, and under concurrency (docs/persistent.md).
"""
