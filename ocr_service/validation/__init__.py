"""Validation and normalisation of field values: pure functions, no I/O, no database.

Leaf modules (safe to import from anywhere, including the form schema):
``wareki`` (和暦 ⇄ 西暦), ``postal``, ``phone``, ``kana``, ``checkdigit``,
``encoding`` (representability in CP932 / Shift_JIS / EUC-JP / UTF-8).
``rules`` applies a field's type and declared rules, and a form's cross-field
rules; it imports the layout model, so this package does not import it eagerly.
"""
