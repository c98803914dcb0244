"""Telling people what needs them: one outbox row per person and event, emailed once.

Every writer here only writes ``Notification`` rows, in the transaction of the change they
are about, and queues their delivery after commit (``tasks.deliver_after_commit``): a step
that is rolled back tells nobody, and a mail server or broker that is down never fails one.
No notification names a child or carries case content: a kind, a share number, a deadline,
who acted, a link.
"""
