"""Sending a release by Safeshare's own secure link: the sender's pages, the recipient's
pages (outside sign-in, opened with a code), the link's email, its PDF and its notices."""
