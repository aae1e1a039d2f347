"""Sphinx-side plumbing of the book (not imported by the pages).

* :mod:`book_build.offline_html` -- keeps every HTML page self-contained.
"""
