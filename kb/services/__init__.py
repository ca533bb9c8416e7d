"""Core service functions behind the app's pages.

Each function takes the acting user, checks their role against the database
(:func:`kb.auth.authorize`), does one thing, and writes every knowledge-base change or
approval to the audit log. Pages only read widgets, call one of these and render.
"""
