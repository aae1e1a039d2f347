"""Sphinx-side plumbing of the book (not imported by the pages).

* :mod:`book_build.offline_html` -- keeps every HTML page self-contained.
* :mod:`book_build.hidden_gated_solutions` -- hides gated exercise solutions
  in the students' edition (``make book-student``).
"""
