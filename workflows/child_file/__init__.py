"""A child's child protection file moving to another setting: the file as frozen at
sending (assemble.py), and the pages that send, open, accept and reject it."""
